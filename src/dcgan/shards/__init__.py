"""Stage 4: a dataset's image table minus dedup's removals -> byte-identical WebDataset shards.

The kept images are shuffled globally with the config seed and written with webdataset's TarWriter,
a fixed number of samples per shard. Each sample is `__key__` (the table key), the image and a JSON
record of where it came from. Beside the shards: `index.json` (the wids shard index), `manifest.tsv`
(sha256 per shard) and `shards.json` (provenance). The folder is built under a temporary name and
renamed into place, so a shard folder is always whole.

The table is read once, in its own order (a stream, not a seek per sample): each kept sample is encoded
and appended to the bucket file of the shard its place in the shuffle puts it in; then each shard is
written from its bucket alone, in shuffled order. Memory is one part's rows and one shard's bytes,
whatever the size of the table; the buckets take as much disk as the shards, for a while.
"""
