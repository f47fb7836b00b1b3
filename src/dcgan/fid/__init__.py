"""FID and KID, shared by training (tracked FID) and evaluation: the TF-Inception feature extractor
(`inception`), the scores (`scores`), each dataset's reference features (`reference`, rule fid_reference)
and their commands (`commands`: fid-weights, fid-reference)."""

FID_WEIGHTS = "resources/fid/tf_inception_fid.pt"  # where the fid_weights rule writes the TF-Inception weights
