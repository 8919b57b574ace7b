"""The wire: HTTP to the gateway and decoding what comes back, as it streams.

``client`` sends requests with the retry rule that never bills twice (``retry``,
whose ``Attempts`` counts the sends of unknown outcome, each maybe billed), their
multipart files and ids coming from ``parts``;
``response`` reads a successful answer as a stream and turns a failed one into its
error; ``sse`` turns the ``/responses`` event stream into typed events; ``imagejson``,
``payloadspool`` and ``b64stream`` decode base64 images out of JSON and SSE without
holding them in memory.

May import: ``vibeimg.errors``, ``vibeimg.units``, ``vibeimg.settings``, ``vibeimg.files``.
"""
