"""The lead's review app (``sbs review``): the app in ``review.app``, one module per tab, the tabs' shared base."""
