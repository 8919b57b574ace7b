"""``POST /responses`` with the ``image_generation`` tool: ``request`` builds and checks
it, ``run`` follows the event stream and saves each image, ``result`` is what a run
reports and returns."""
