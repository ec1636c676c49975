"""The web side of dondoc: one server for the chat channels' webhooks, signed file links
and a health check (web/server.py), the links themselves (web/links.py) and what opening
one serves (web/files.py).

Channel-neutral: nothing here imports a chat library. A channel adapter hands the server
a :class:`web.server.Webhook` (a path, the header carrying its secret, and a coroutine
that takes the checked JSON body); the chat side makes links with the functions of
:mod:`web.links`.
"""
