"""Stage 2: near-duplicate removal with the paper's autoencoder semantic hash (or perceptual hashes)."""
