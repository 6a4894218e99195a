"""The annotator app (``sbs annotate``): the app, its judging screen and its modals (built by ``annotate.app``)."""
