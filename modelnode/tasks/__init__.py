"""The ML task log and the background runner.

Tasks are documents of ``.plugins-ml-task``. ``TaskRunner`` starts jobs on the event loop (blocking
parts go to worker threads inside the job), keeps at most ``limit`` running per task type, moves
state CREATED -> RUNNING -> COMPLETED | FAILED as ML Commons does (REGISTER_MODEL never shows
RUNNING, because opensearch-py-ml polls until the state leaves CREATED and then reads
``model_id``), and on start-up fails tasks that a previous process left unfinished.
"""

from modelnode.tasks.runner import TaskLog, TaskRunner, run_in_thread

__all__ = ["TaskLog", "TaskRunner", "run_in_thread"]
