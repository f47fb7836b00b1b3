"""Stage 5: DCGAN training with the paper's architecture and hyper-parameters, on one process or a
torchrun group.

loop: the stage (`dcgan train`); model: G and D; settings: model and training settings (no torch);
steps: one iteration of the two updates, with the speed switches; loader: the two loaders (the shards
streamed, or the decoded set held in memory); decoded: the decoded set; inputs: which loader a run
takes (train.data); distributed: the DDP group;
checkpoints: saving and resuming; tracking: metrics and the per-epoch coverage proof; quality: FID,
KID and warnings while training runs.
"""
