"""npg_porch's tasks endpoints."""

from __future__ import annotations

from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get, post, put
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from domain import limits
from domain.pipelines.tasks_uc import (
    MAX_PAGE,
    AddTask,
    ClaimTasks,
    GetTaskHistory,
    ListTasks,
    UpdateTask,
)
from domain.pipelines.tokens import TokenGrant
from entrypoints.http.porch.docs import errors
from entrypoints.http.porch.wire import (
    MaybeQueryText,
    PathText,
    PipelineIn,
    QueryText,
    TaskHistoryOut,
    TaskIn,
    TaskOut,
    history_out,
    state,
    task_out,
)

MAX_CLAIM = 1000


class TasksController(Controller):
    path = "/tasks"
    tags = ["porch: tasks"]
    security = [{"PorchToken": []}]

    @get(
        ["/", ""],
        summary="Tasks, oldest first, by pipeline and status (paginated)",
        responses=errors(400, 401, 403, 404, 422, 503),
    )
    async def list_tasks(
        self,
        tasks: FromDishka[ListTasks],
        grant: FromDishka[TokenGrant],
        pipeline_name: MaybeQueryText = None,
        status: MaybeQueryText = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1000,
        offset: Annotated[int, QueryParameter(ge=0, le=limits.INT64_MAX)] = 0,
    ) -> list[TaskOut]:
        wanted = state(status) if status is not None else None
        return [task_out(t) for t in await tasks(grant, pipeline_name, wanted, limit, offset)]

    @post(
        ["/", ""],
        status_code=HTTP_201_CREATED,
        summary="Create a task (201), or find it with its current status (200)",
        responses={
            200: ResponseSpec(
                data_container=TaskOut, description="the task existed: it, with its status"
            ),
            **errors(400, 401, 403, 404, 413, 422, 503),
        },
    )
    async def add_task(
        self, data: JSONBody[TaskIn], add: FromDishka[AddTask], grant: FromDishka[TokenGrant]
    ) -> Response[TaskOut]:
        task, created = await add(grant, data.pipeline.name, data.task_input)
        return Response(task_out(task), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @put(
        ["/", ""],
        summary="Set a task's status (found by pipeline and task_input)",
        responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
    )
    async def update_task(
        self,
        data: JSONBody[TaskIn],
        update: FromDishka[UpdateTask],
        grant: FromDishka[TokenGrant],
    ) -> TaskOut:
        to = state(data.status)
        return task_out(await update(grant, data.pipeline.name, data.task_input, to))

    @get(
        "/{task_input_id:str}/history",
        summary="A task's attempts and every change (who, when, from, to): beyond npg_porch",
        responses=errors(400, 401, 403, 404, 503),
    )
    async def task_history(
        self,
        task_input_id: PathText,
        pipeline_name: QueryText,
        history: FromDishka[GetTaskHistory],
        grant: FromDishka[TokenGrant],
    ) -> TaskHistoryOut:
        return history_out(await history(grant, pipeline_name, task_input_id))

    @post(
        "/claim",
        status_code=HTTP_200_OK,
        summary="Claim up to num_tasks pending tasks of the pipeline, oldest first",
        responses=errors(400, 401, 403, 404, 413, 503),
    )
    async def claim_tasks(
        self,
        data: JSONBody[PipelineIn],
        claim: FromDishka[ClaimTasks],
        grant: FromDishka[TokenGrant],
        num_tasks: Annotated[int, QueryParameter(ge=1, le=MAX_CLAIM)] = 1,
    ) -> list[TaskOut]:
        return [task_out(t) for t in await claim(grant, data.name, num_tasks)]
