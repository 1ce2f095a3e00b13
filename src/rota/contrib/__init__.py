"""Glue for the web frameworks applications already use; each module needs its extra
(``rota[web]`` for Starlette and FastAPI, ``rota[django]``) and ``import rota`` loads none."""
