"""A small client for Airflow's REST API: v2 (Airflow 3, bearer token from ``POST /auth/token``) and
v1 (Airflow 2, HTTP basic auth); either with a fixed bearer token or no authentication. Standard
library only; errors are :class:`AirflowAPIError` (``status`` None when Airflow was not reached)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

API_VERSIONS = ("v2", "v1")


class AirflowAPIError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AirflowClient:
    """``base_url`` is the API server's root (``http://host:8080``), without ``/api/...``."""

    def __init__(
        self,
        base_url: str,
        username: str | None,
        password: str | None,
        *,
        api: str = "v2",
        timeout: float = 30.0,
        token: str | None = None,
    ):
        """``username``/``password``: v2 exchanges them for a JWT, v1 sends them as basic auth.
        ``token``: a bearer token sent as is. Neither: no Authorization header."""
        if api not in API_VERSIONS:
            raise ValueError(f"api must be one of {API_VERSIONS}, not {api!r}")
        self.base_url = base_url.rstrip("/")
        self.api = api
        self.timeout = timeout
        self._username, self._password = username, password
        self._fixed_token = token
        self._token: str | None = None
        self._lock = threading.Lock()

    @staticmethod
    def detect_api(base_url: str, timeout: float = 10.0) -> str:
        """ "v2" (Airflow 3) or "v1" (Airflow 2), from which health endpoint answers (no auth)."""
        base = base_url.rstrip("/")
        probe = AirflowClient(base, None, None, timeout=timeout)
        try:
            probe._open(
                "GET", base + "/api/v2/monitor/health", headers={"Accept": "application/json"}
            )
            return "v2"
        except AirflowAPIError as exc:
            if exc.status is None:
                raise
        return "v1"

    # -- transport ------------------------------------------------------------------------------

    def _open(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise AirflowAPIError(
                f"{method} {urllib.parse.urlsplit(url).path}: HTTP {exc.code} {detail}", exc.code
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise AirflowAPIError(f"{method} {self.base_url}: {exc}") from None

    def token(self) -> str:
        """v2: a JWT from ``POST /auth/token`` (cached; renewed once on a 401)."""
        with self._lock:
            if self._token is None:
                _, raw = self._open(
                    "POST",
                    self.base_url + "/auth/token",
                    {"username": self._username, "password": self._password},
                )
                self._token = json.loads(raw)["access_token"]
            return self._token

    def _auth(self) -> dict[str, str]:
        if self._fixed_token:
            return {"Authorization": "Bearer " + self._fixed_token}
        if self._username is None:
            return {}
        if self.api == "v1":
            pair = f"{self._username}:{self._password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {"Authorization": "Bearer " + self.token()}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> Any:
        url = f"{self.base_url}/api/{self.api}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(
                [
                    (k, x)
                    for k, v in query.items()
                    if v is not None
                    for x in (v if isinstance(v, list) else [v])
                ]
            )
        for attempt in (1, 2):
            headers = {"Accept": accept, **self._auth()}
            try:
                _, raw = self._open(method, url, body, headers)
                break
            except AirflowAPIError as exc:
                if exc.status == 401 and self.api == "v2" and attempt == 1 and self._token:
                    with self._lock:
                        self._token = None
                    continue
                if (
                    exc.status is None
                    and method == "GET"
                    and attempt == 1
                    and "timed out" in str(exc)
                ):
                    continue  # a busy Airflow: a read is safe to ask for once more
                raise
        if accept != "application/json":
            return raw.decode("utf-8", "replace")
        return json.loads(raw) if raw else None

    # -- calls ----------------------------------------------------------------------------------

    @staticmethod
    def _q(value: str) -> str:
        return urllib.parse.quote(value, safe="")

    def list_dags(
        self, *, tags: list[str] | None = None, dag_id_pattern: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.request(
                "GET",
                "/dags",
                query={
                    "tags": tags,
                    "dag_id_pattern": dag_id_pattern,
                    "limit": limit,
                    "offset": len(out),
                },
            )
            out += page.get("dags") or []
            if not page.get("dags") or len(out) >= page.get("total_entries", 0):
                return out

    def get_dag(self, dag_id: str) -> dict[str, Any]:
        return self.request("GET", f"/dags/{self._q(dag_id)}")

    def import_errors(self, filename_pattern: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"limit": 100}
        if filename_pattern and self.api == "v2":
            query["filename_pattern"] = filename_pattern
        errors = self.request("GET", "/importErrors", query=query).get("import_errors") or []
        if filename_pattern and self.api == "v1":  # v1 has no filter: match the name here
            errors = [e for e in errors if filename_pattern in (e.get("filename") or "")]
        return errors

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        return self.request(
            "PATCH",
            f"/dags/{self._q(dag_id)}",
            {"is_paused": paused},
            query={"update_mask": "is_paused"} if self.api == "v1" else None,
        )

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.set_paused(dag_id, False)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"conf": conf or {}}
        if self.api == "v2":
            body["logical_date"] = None  # required key on v2 (omitting it is a 422)
        return self.request("POST", f"/dags/{self._q(dag_id)}/dagRuns", body)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}")

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.dag_run(dag_id, run_id).get("state")

    def dag_runs(self, dag_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        order = "-execution_date" if self.api == "v1" else "-run_after"
        return (
            self.request(
                "GET", f"/dags/{self._q(dag_id)}/dagRuns", query={"limit": limit, "order_by": order}
            ).get("dag_runs")
            or []
        )

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        """``failed`` stops a run: Airflow fails its running tasks and skips the rest."""
        return self.request(
            "PATCH", f"/dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}", {"state": state}
        )

    def dag_tasks(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's tasks as Airflow has them (``task_id``, ``downstream_task_ids``, ...)."""
        return self.request("GET", f"/dags/{self._q(dag_id)}/tasks").get("tasks") or []

    def clear_tasks(self, dag_id: str, run_id: str, task_ids: list[str]) -> list[dict[str, Any]]:
        """Clear these tasks of one run (whatever their state; nothing up- or downstream of
        them): Airflow runs them again in that run, and the run is running again. Returns the
        task instances cleared."""
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": list(task_ids),
            "only_failed": False,
            "only_running": False,
            "reset_dag_runs": True,
            "include_upstream": False,
            "include_downstream": False,
            "include_future": False,
            "include_past": False,
        }
        answer = self.request("POST", f"/dags/{self._q(dag_id)}/clearTaskInstances", body)
        return (answer or {}).get("task_instances") or []

    def dag_source(self, dag: dict[str, Any]) -> str:
        """The DAG file's text as Airflow last parsed it (v2 by dag id, v1 by file token)."""
        if self.api == "v2":
            answer = self.request("GET", f"/dagSources/{self._q(dag['dag_id'])}")
        else:
            answer = self.request("GET", f"/dagSources/{self._q(dag['file_token'])}")
        return answer.get("content") or "" if isinstance(answer, dict) else str(answer or "")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return (
            self.request(
                "GET",
                f"/dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}/taskInstances",
                query={"limit": 100},
            ).get("task_instances")
            or []
        )

    def _hitl_path(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
        return (
            f"/dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}/taskInstances/{self._q(task_id)}"
            f"/{int(map_index)}/hitlDetails"
        )

    def hitl_detail(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> dict[str, Any]:
        """A human-in-the-loop task's request and response (Airflow 3.1+, REST v2): subject,
        options, defaults, chosen_options, response_received, responded_by_user, ..."""
        return self.request("GET", self._hitl_path(dag_id, run_id, task_id, map_index)) or {}

    def waiting_hitl(self, dag_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The human-in-the-loop requests of all runs of a DAG that have no response yet, each
        with its ``task_instance`` (``dag_run_id``, ``task_id``, ``state``): one request for a
        whole runs list (Airflow 3.1+, REST v2; ``~`` is every run)."""
        answer = self.request(
            "GET",
            f"/dags/{self._q(dag_id)}/dagRuns/~/hitlDetails",
            query={"response_received": "false", "limit": limit},
        )
        return (answer or {}).get("hitl_details") or []

    def hitl_respond(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        chosen_options: list[str],
        params_input: dict[str, Any] | None = None,
        map_index: int = -1,
    ) -> dict[str, Any]:
        """Answer a human-in-the-loop task (once; Airflow answers 409 to a second answer)."""
        body = {"chosen_options": list(chosen_options), "params_input": dict(params_input or {})}
        return self.request("PATCH", self._hitl_path(dag_id, run_id, task_id, map_index), body)

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> str:
        """``map_index``: a mapped task instance (a fan-out item); -1 a task that is not mapped."""
        path = (
            f"/dags/{self._q(dag_id)}/dagRuns/{self._q(run_id)}/taskInstances/{self._q(task_id)}"
            f"/logs/{int(try_number)}"
        )
        query = {"full_content": "true"}
        if map_index >= 0:
            query["map_index"] = str(int(map_index))
        if self.api == "v1":
            return self.request("GET", path, query=query, accept="text/plain")
        answer = self.request("GET", path, query=query)
        content = answer.get("content") if isinstance(answer, dict) else answer
        if isinstance(content, str):
            return content
        lines = []
        for item in content or []:
            lines.append(item.get("event", "") if isinstance(item, dict) else str(item))
        return "\n".join(lines)
