"""The studio's state, free of Qt: pose, shape and view (with undo), the try-on paint mask, job status,
motion playback, and what the viewport and panels show of avatars and captures (psygnal signals)."""
