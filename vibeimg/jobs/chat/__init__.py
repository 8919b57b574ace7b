"""``POST /responses`` with the ``image_generation`` tool: ``request`` builds and checks
it, ``run`` follows the event stream and saves each image, ``result`` is what a run
reports and returns, ``session`` makes a request a turn of a conversation (the earlier
turns resent, the images chosen by ``--context``) and records it."""
