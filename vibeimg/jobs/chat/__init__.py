"""``POST /responses`` with the ``image_generation`` tool: ``request`` builds and checks
it, ``run`` sends it and reads the event stream (waiting out a first Ctrl-C),
``events`` follows each image call and saves each image, ``result`` is what a run
reports and returns, ``ending`` how it ended (its sidecars, its error), ``counts`` how
many images a prompt asks for, ``session`` makes a request a turn of a conversation (the earlier
turns resent, the images chosen by ``--context``) and records it.

The defaults that ``chat-stream --help`` shows live here, so that describing the
command imports none of the code that runs it.
"""

DEFAULT_TEXT_MODEL = "gpt-5.5"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful image generation assistant. Generate ALL images the user requests."
)
MAX_IMAGES = 10  # images asked for in one response
