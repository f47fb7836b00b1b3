"""Stage 6: evaluation of a trained DCGAN, one job per kind of result.

metrics: FID, KID and the memorisation checks (`dcgan evaluate metrics`); figures: samples, latent
walks, vector arithmetic, loss curves and D's features (`evaluate figures`; filters: guided
backpropagation, Fig. 5); svm: the paper's D-feature L2-SVM (`evaluate svm`); scores_table: scores.tsv
(`evaluate table`); generator: loading a trained model, z per seed, walks and arithmetic; object_boxes
and forgetting: forgetting to draw (Fig. 6); settings: each job's settings (no torch).
"""
