"""Glue for the web frameworks applications already use; each module needs its extra
(``rota[starlette]`` or ``rota[fastapi]``, ``rota[django]``) and ``import rota`` loads none."""
