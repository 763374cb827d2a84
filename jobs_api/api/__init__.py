"""The HTTP layer: dependencies (``deps``), models (``schemas``), error answers (``errors``)
and one router per topic (``routes``)."""
