"""FID and KID: the TF-Inception feature extractor and the scores, shared by training (tracked FID) and evaluation."""
