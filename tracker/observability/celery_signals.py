"""The request id follows a request into the Celery tasks it enqueues.

``before_task_publish`` copies the current request id into the message headers;
``task_prerun`` in the worker puts it back in the contextvar, so the task's log
lines and audit events carry the id of the request that caused them. Eager
tasks (embedded default) run in the caller's context and keep its id.
"""

from __future__ import annotations

import uuid
from contextvars import Token

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from tracker.request_context import request_id_var

HEADER = "shopfloor_request_id"
_tokens: dict[str, Token[str]] = {}


@before_task_publish.connect(dispatch_uid="observability.publish_request_id")
def add_request_id_header(sender=None, headers=None, **kwargs):
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


def _incoming_request_id(task) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    # Protocol 2 workers expose custom headers as request attributes;
    # ``Task.apply(headers=...)`` keeps them under ``request.headers``.
    value = getattr(request, HEADER, None)
    if not value:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return str(value) if value else None


@task_prerun.connect(dispatch_uid="observability.task_request_id")
def set_task_request_id(sender=None, task_id=None, task=None, **kwargs):
    request_id = _incoming_request_id(task)
    if request_id is None:
        if request_id_var.get():
            return  # eager task inside a request: keep the caller's id
        request_id = f"task-{task_id or uuid.uuid4().hex}"  # beat or unlabeled enqueue
    _tokens[task_id] = request_id_var.set(request_id)


@task_postrun.connect(dispatch_uid="observability.task_request_id_reset")
def reset_task_request_id(sender=None, task_id=None, **kwargs):
    token = _tokens.pop(task_id, None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except ValueError:
            # Set in another context (thread pool worker): clearing is enough.
            request_id_var.set("")


@setup_logging.connect(dispatch_uid="observability.keep_django_logging")
def keep_django_logging(**kwargs):
    """Having a receiver stops Celery replacing the root logger: the worker logs
    through Django's LOGGING (JSON with the request id) like the web process."""
