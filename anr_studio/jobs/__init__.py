"""Background work for the studio, free of Qt: training in a child process, capture jobs, video export and
the neural preview's render thread; workers report through ``anr_studio.components.status``."""
