"""FID and KID: the TF-Inception feature extractor and the scores, shared by training (tracked FID) and evaluation."""

FID_WEIGHTS = "resources/fid/tf_inception_fid.pt"  # where the fid_weights rule writes the TF-Inception weights
