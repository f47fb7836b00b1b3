"""Stage 3: OpenCV face detection over web images into a set of high-resolution face crops.

The paper (section 4.2) ran an OpenCV face detector over 3M web images and kept the detections of
sufficiently high resolution (~350,000 boxes). settings: what to run and keep; detectors: the
detectors; mtcnn: MTCNN's cascade; nets: MTCNN's three networks; quality: the keep rules
(size, sharpness, border); stage: one part of the input list into one image-table part; report: the
dataset-level outputs; scoring: detections against ground-truth boxes.
"""
