"""The studio's state, free of Qt: pose, shape and view (with undo), the try-on paint mask, job
status, motion playback, and what the viewport and panels show of avatars and captures.

Widgets in ``anr_studio.gui`` read and write these objects and listen to their signals (psygnal);
background workers (``anr_studio.jobs``) report into the status objects.
"""
