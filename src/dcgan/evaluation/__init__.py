"""Stage 6: evaluation of a trained DCGAN (FID/KID, memorisation, latent walks, vector arithmetic,
the paper's discriminator-feature L2-SVM) and the figures of the report."""
