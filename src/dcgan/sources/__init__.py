"""Stage 1: raw images into the image table: LSUN LMDBs (key ranges) and image folders or lists."""
