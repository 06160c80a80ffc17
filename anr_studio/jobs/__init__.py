"""Background work for the studio, free of Qt: training in a child process, capture import,
synthetic captures, keyframe selection, video export and the neural preview's render thread.

Workers report through the status objects of ``anr_studio.components.status``; the GUI polls them.
"""
