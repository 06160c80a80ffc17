"""From a plain video to a capture: 2D/3D body keypoints, a fit of the built-in body, person masks.

``landmarks`` maps keypoint layouts (COCO-17, MediaPipe-33) onto the body; ``bodyfit`` fits the
body's per-frame pose and translation, one shape and the camera's focal length to keypoints;
``models`` holds the keypoint estimator and person segmenter interfaces; ``pipeline`` turns a
video into a capture file.
"""
