"""The handle ``@app.task`` returns: call it to run the function, ``enqueue`` to queue a job."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, Protocol, TypedDict, TypeVar, Unpack, overload

from rota import _limits
from rota._errors import ConfigError, PayloadError
from rota._ids import new_id
from rota._limits_spec import KeyTemplate, TaskLimits
from rota._models import Job
from rota._retry import DEFAULT_RETRY, RetryPolicy
from rota._serde import Codec, codec_for
from rota.runtime.context import DEFAULT_QUEUE
from rota.runtime.jobcontext import JobContext
from rota.runtime.locks import task_lock_key
from rota.runtime.settings import AppConfig

#: A task's payload type: the annotation of its handler's payload parameter (None: it takes none).
P = TypeVar("P")


class EnqueueOptions(TypedDict, total=False):
    """When and how a job is queued (``Task.enqueue``, ``Task.prepare``, ``App.enqueue``):
    ``delay`` (seconds or ``timedelta``) or ``at`` (an aware datetime); ``key`` dedupes (a
    job with that key already in the store is returned instead of a new one); ``priority``
    and ``queue`` override the task's; ``id`` is the job's id chosen by the caller (text of
    1 to 200 characters without NUL; default: a new time-ordered id): a job with that id
    already in the store is returned instead of a new one (docs/workflows.md, Caller ids).
    ``after``: the jobs this one waits for (Jobs, job ids, or JobSpecs earlier in the same
    ``enqueue_many``): it runs once all succeeded, and is cancelled when one fails or is
    cancelled, unless ``after_failure="run"`` (docs/workflows.md, Dependencies)."""

    delay: float | timedelta | None
    at: datetime | None
    key: str | None
    priority: int | None
    queue: str | None
    id: str | None
    after: Iterable[JobSpec | Job | str] | None
    after_failure: Literal["cancel", "run"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job ready to be added, built by ``Task.prepare``; give a list to ``App.enqueue_many``."""

    task: Task[Any]
    payload: bytes
    delay: float | timedelta | None = None
    at: datetime | None = None
    key: str | None = None
    priority: int | None = None
    queue: str | None = None
    id: str | None = None
    after: tuple[JobSpec | Job | str, ...] | None = None
    after_failure: Literal["cancel", "run"] = "cancel"
    #: a chain's link: the payload is the parent's result, set when the parent releases it
    takes_result: bool = False


class TaskOptions(TypedDict, total=False):
    """``@app.task(...)``: ``name`` (default ``module.function``), ``queue``, ``priority``,
    ``retry`` (a ``RetryPolicy`` or a number of attempts), ``timeout`` (seconds or
    ``timedelta``) and ``lock`` (a key template such as ``"invoice:{customer_id}"``).
    Limits held by the store across every worker (docs/workflows.md): ``rate_limit``
    (``"100/s"``, ``"10/m"``: a token bucket of that many runs per period) and
    ``concurrency_limit`` (runs at once), each per task or, with ``rate_key`` /
    ``concurrency_key`` (key templates like ``lock``'s), per key."""

    name: str | None
    queue: str
    priority: int
    retry: RetryPolicy | int | None
    timeout: float | timedelta | None
    lock: str | None
    rate_limit: str | None
    rate_key: str | None
    concurrency_limit: int | None
    concurrency_key: str | None


class TaskDecorator(Protocol):
    """What ``@app.task(...)``, ``@app.cron(...)`` and ``@app.every(...)`` return: turns a
    handler (or, for schedules, a task) into a ``Task`` of the handler's payload type."""

    @overload
    def __call__(self, fn: Callable[[JobContext], object], /) -> Task[None]: ...
    @overload
    def __call__(self, fn: Callable[[P, JobContext], object], /) -> Task[P]: ...
    @overload
    def __call__(self, fn: Callable[[P], object], /) -> Task[P]: ...
    @overload
    def __call__(self, fn: Callable[[], object], /) -> Task[None]: ...


class TaskOwner(Protocol):
    """What a task needs of the App that registered it (``App`` is one)."""

    @property
    def config(self) -> AppConfig: ...

    async def enqueue_many(self, specs: Iterable[JobSpec], /, *, connection: object = None) -> list[Job]: ...


class Task(Generic[P]):
    """A registered task (``@app.task``); ``P`` is its payload type, so a type checker refuses
    ``task.enqueue(...)`` with a payload of another type. Calling it runs the function
    directly (handy in tests)."""

    def __init__(
        self,
        app: TaskOwner,
        fn: Callable[..., Any],
        *,
        name: str,
        queue: str,
        priority: int,
        retry: RetryPolicy,
        timeout: float | None,
        lock: str | None,
        limits: TaskLimits | None = None,
    ) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.queue = queue
        self.priority = priority
        self.retry = retry
        self.timeout = timeout
        self.lock = lock
        self.is_async = inspect.iscoroutinefunction(fn)
        shape = _signature(fn, name)
        self.payload_type, self.takes_payload = shape.payload_type, shape.takes_payload
        #: the parameter the handler takes a ``JobContext`` in (None: it takes none), and
        #: whether it is passed by position (a positional-only parameter)
        self.context_param, self._context_positional = shape.context_param, shape.context_positional
        self.wants_context = shape.context_param is not None
        self.codec: Codec = codec_for(self.payload_type)
        self.limits = limits or TaskLimits()
        self._result_codec: Codec | None = None  # made by the first decode_result

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.queue}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    # -- payloads ----------------------------------------------------------------------------

    def encode(self, payload: object) -> bytes:
        """Validate and encode a payload; raises PayloadError if it does not fit its type or
        is larger than the app's ``max_payload_bytes`` once encoded."""
        data = self.codec.encode(payload if self.takes_payload else None)
        limit = self.app.config.max_payload_bytes
        if len(data) > limit:
            raise PayloadError(
                f"payload of task {self.name!r} is {len(data):,} bytes encoded, over the limit of "
                f"{limit:,} (App(max_payload_bytes=...) or ROTA_MAX_PAYLOAD_BYTES)"
            )
        if self.lock is not None or self.limits.templated:
            # a payload the lock or limit keys cannot be formatted from: refuse it now
            decoded = self.decode(data)
            if self.lock is not None:
                task_lock_key(self, decoded)
            self.limits.for_job(self.name, decoded)
        return data

    def decode(self, data: bytes) -> P:
        decoded: P = self.codec.decode(data)
        return decoded

    def decode_result(self, data: bytes) -> Any:
        """A stored result as the handler's return annotation describes it (a dataclass comes
        back as one); plain JSON without a usable annotation. ``PayloadError`` when it does
        not fit the annotation (a result stored by another version of the handler)."""
        if self._result_codec is None:
            try:
                returns = typing.get_type_hints(self.fn).get("return", Any)
            except Exception:  # an annotation that does not resolve: plain JSON
                returns = Any
            self._result_codec = codec_for(Any if returns is type(None) else returns)
        return self._result_codec.decode(data)

    async def invoke(self, payload: object, context: JobContext | None = None) -> object:
        """Run the handler with a decoded payload (async handlers only; sync ones use call_sync),
        and the run's context when it takes one (``wants_context``)."""
        if context is None:
            if self.takes_payload:
                return await self.fn(payload)
            return await self.fn()
        args, kwargs = self._arguments(payload, context)
        return await self.fn(*args, **kwargs)

    def call_sync(self, payload: object, context: JobContext | None = None) -> object:
        if context is None:
            result: object = self.fn(payload) if self.takes_payload else self.fn()
            return result
        args, kwargs = self._arguments(payload, context)
        return self.fn(*args, **kwargs)

    def _arguments(
        self, payload: object, context: JobContext
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        args: tuple[object, ...] = (payload,) if self.takes_payload else ()
        if self._context_positional:
            return (*args, context), {}
        assert self.context_param is not None
        return args, {self.context_param: context}

    # -- enqueueing --------------------------------------------------------------------------

    @overload
    def prepare(self: Task[None], payload: None = None, **options: Unpack[EnqueueOptions]) -> JobSpec: ...
    @overload
    def prepare(self, payload: P, **options: Unpack[EnqueueOptions]) -> JobSpec: ...

    def prepare(self, payload: object = None, **options: Unpack[EnqueueOptions]) -> JobSpec:
        """Validate a payload and the options now and return a spec for ``App.enqueue_many``."""
        return self._spec(payload, options)

    @overload
    async def enqueue(
        self: Task[None],
        payload: None = None,
        *,
        connection: object = None,
        **options: Unpack[EnqueueOptions],
    ) -> Job: ...
    @overload
    async def enqueue(
        self, payload: P, *, connection: object = None, **options: Unpack[EnqueueOptions]
    ) -> Job: ...

    async def enqueue(
        self, payload: object = None, *, connection: object = None, **options: Unpack[EnqueueOptions]
    ) -> Job:
        """Queue one job: now, after ``delay`` or at ``at`` (aware datetime).

        With ``key``, a job with that key already in the store is returned instead of a new
        one; with ``id``, likewise a job with that id (see ``EnqueueOptions``).
        With ``connection`` (PostgreSQL: an asyncpg, psycopg 3 or SQLAlchemy async connection),
        the job is written in that connection's transaction (``App.enqueue_many``).
        """
        return (await self.app.enqueue_many([self._spec(payload, options)], connection=connection))[0]

    def _spec(self, payload: object, options: EnqueueOptions) -> JobSpec:
        _limits.options(options, EnqueueOptions.__annotations__, "enqueue")
        after = options.pop("after", None)
        if after is not None:
            if isinstance(after, (str, bytes, JobSpec, Job)) or not isinstance(after, Iterable):
                raise ConfigError("after takes a list of jobs, job ids or JobSpecs")
            options["after"] = tuple(after)
        spec = JobSpec(self, self.encode(payload), **options)  # type: ignore[arg-type]
        check_spec(spec)
        return spec


def make_task(owner: TaskOwner, fn: Callable[..., object], options: TaskOptions) -> Task[Any]:
    """A task of ``fn`` with ``options`` checked against the documented limits."""
    if not callable(fn):
        raise ConfigError(f"a task must be a function, got {type(fn).__name__}")
    name = options.get("name")
    name = _limits.name(f"{fn.__module__}.{fn.__qualname__}" if name is None else name, "task name")
    lock = options.get("lock")
    if lock is not None:
        KeyTemplate(lock, "task lock key")  # refused now, not at the first enqueue
    task: Task[Any] = Task(
        owner, fn, name=name, queue=_limits.name(options.get("queue", DEFAULT_QUEUE), "queue"),
        priority=_limits.priority(options.get("priority", 0)), retry=_retry_policy(options.get("retry")),
        timeout=_timeout(options.get("timeout")), lock=lock,
    )  # fmt: skip
    task.limits = TaskLimits.declare(
        rate_limit=options.get("rate_limit"), rate_key=options.get("rate_key"),
        concurrency_limit=options.get("concurrency_limit"), concurrency_key=options.get("concurrency_key"),
        payload_type=task.payload_type,
    )  # fmt: skip
    return task


def job_from(spec: JobSpec, now: datetime, max_payload_bytes: int, made: dict[int, str] | None = None) -> Job:
    """The job a spec describes, every option checked against the documented limits
    (``ConfigError``); nothing is written until every spec of a call has passed. ``made``:
    the ids given to the earlier specs of the call (by ``id(spec)``), for ``after``."""
    if not isinstance(spec, JobSpec):
        raise ConfigError(f"enqueue_many takes JobSpecs (task.prepare(...)), got {type(spec).__name__}")
    task = spec.task
    if not isinstance(task, Task):
        raise ConfigError(f"JobSpec.task must be a Task, got {type(task).__name__}")
    check_spec(spec)
    if not isinstance(spec.payload, bytes):
        raise ConfigError("JobSpec.payload must be encoded bytes: build specs with task.prepare(...)")
    if len(spec.payload) > max_payload_bytes:
        raise PayloadError(
            f"payload of task {task.name!r} is {len(spec.payload):,} bytes encoded, over the "
            f"limit of {max_payload_bytes:,}"
        )
    limits = task.limits.for_job(task.name, task.decode(spec.payload) if task.limits.templated else None)
    due = now
    if spec.at is not None:
        due = _limits.instant(spec.at, "at")
    elif spec.delay is not None:
        due = _limits.later(now, _limits.duration(spec.delay, "delay"), "delay")
    job = Job(
        id=new_id() if spec.id is None else spec.id,
        task=task.name,
        queue=spec.queue or task.queue,
        payload=spec.payload,
        priority=task.priority if spec.priority is None else spec.priority,
        due_at=due,
        created_at=now,
        max_attempts=task.retry.attempts,
        key=spec.key,
        timeout=task.timeout,
        concurrency_key=limits.concurrency_key,
        concurrency_limit=limits.concurrency_limit,
        rate_key=limits.rate_key,
        rate_limit=limits.rate_limit,
        rate_period=limits.rate_period,
        parents=None if spec.after is None else tuple(_parent_id(p, made or {}) for p in spec.after),
        run_after_failure=spec.after_failure == "run",
        takes_result=spec.takes_result,
    )
    if made is not None:
        made[id(spec)] = job.id
    return job


def _parent_id(parent: JobSpec | Job | str, made: dict[int, str]) -> str:
    if isinstance(parent, Job):
        return parent.id
    if isinstance(parent, str):
        return _limits.name(parent, "job id")
    if isinstance(parent, JobSpec):
        found = made.get(id(parent))
        if found is None:
            raise ConfigError("after names a JobSpec that is not earlier in the same enqueue_many call")
        return found
    raise ConfigError(f"after takes jobs, job ids or JobSpecs, got {type(parent).__name__}")


def check_spec(spec: JobSpec) -> None:
    """The per-job options of a spec (``Task.prepare`` and ``build_job`` both check)."""
    if spec.delay is not None and spec.at is not None:
        raise ConfigError("give delay or at, not both")
    if spec.delay is not None:
        _limits.duration(spec.delay, "delay")
    if spec.at is not None:
        _limits.instant(spec.at, "at")
    if spec.key is not None:
        _limits.name(spec.key, "key")
    if spec.id is not None:
        _limits.name(spec.id, "job id")
    if spec.priority is not None:
        _limits.priority(spec.priority)
    if spec.queue is not None:
        _limits.name(spec.queue, "queue")
    if spec.after_failure not in ("cancel", "run"):
        raise ConfigError(f'after_failure must be "cancel" or "run", got {spec.after_failure!r}')


@dataclass(frozen=True, slots=True)
class _Shape:
    payload_type: Any  # the payload's annotation (NoneType: the handler takes no payload)
    takes_payload: bool
    context_param: str | None  # the parameter annotated JobContext
    context_positional: bool  # passed by position (positional-only), else by keyword


def _signature(fn: Callable[..., Any], name: str) -> _Shape:
    """The handler's shape: its payload parameter (the first one that is not the context,
    with its annotation), and the parameter annotated ``JobContext``, if any. Decided once,
    at registration, so a run pays only for what its handler takes."""
    sig = inspect.signature(fn)
    params = [
        p
        for p in sig.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    hints: dict[str, Any] = {}
    if params:
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:
            raise ConfigError(f"cannot resolve the annotations of task {name!r}: {exc}") from exc
    contexts = [i for i, p in enumerate(params) if hints.get(p.name) is JobContext]
    if len(contexts) > 1:
        raise ConfigError(f"task {name!r} takes {len(contexts)} JobContext parameters; one is enough")
    context_index = contexts[0] if contexts else None
    others = [p for i, p in enumerate(params) if i != context_index]
    required = [p for p in others if p.default is inspect.Parameter.empty]
    if len(others) > 1 and len(required) > 1:
        raise ConfigError(
            f"task {name!r} takes {len(others)} parameters; a handler takes one payload "
            "parameter (use a dataclass or TypedDict to carry several values), and optionally "
            "a rota.JobContext after it"
        )
    if context_index is None:
        if not others:
            return _Shape(type(None), False, None, False)
        return _Shape(hints.get(others[0].name, Any), True, None, False)
    context = params[context_index]
    if others and context_index == 0:
        raise ConfigError(f"task {name!r}: the payload must be the first parameter, the JobContext after it")
    # passed by keyword; by position only when positional-only, so then it must come next
    positional = context.kind is inspect.Parameter.POSITIONAL_ONLY
    if positional and context_index != (1 if others else 0):
        raise ConfigError(f"task {name!r}: a positional-only JobContext must follow the payload directly")
    payload_type = hints.get(others[0].name, Any) if others else type(None)
    return _Shape(payload_type, bool(others), context.name, positional)


def _retry_policy(retry: RetryPolicy | int | None) -> RetryPolicy:
    if retry is None:
        return DEFAULT_RETRY
    if isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, int) and not isinstance(retry, bool):
        return RetryPolicy(attempts=retry)
    raise ConfigError(f"retry must be a RetryPolicy or a number of attempts, got {type(retry).__name__}")


def _timeout(timeout: float | timedelta | None) -> float | None:
    if timeout is None:
        return None
    return _limits.duration(timeout, "timeout", positive=True)
