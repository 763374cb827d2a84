"""The web console under ``/console``: server-rendered pages, plain JavaScript and CSS.

Three pages (:mod:`jobs_api.console.pages`) and their assets (``static/``, shipped in the
package and the Lambda zip), served by :mod:`jobs_api.console.routes` with a strict
Content-Security-Policy (:mod:`jobs_api.console.policy`). The pages hold no data: their
scripts call the jobs API with the key the user pastes, kept in the tab's sessionStorage.
"""
