"""HubSpot API emulator: CRM objects, search, associations, properties, OAuth, limits, faults.

`create_app(HubSpotSandboxConfig(...))` builds a Flask app; `sandbox.common.server` runs it.
"""

from sandbox.hubspot.app import create_app
from sandbox.hubspot.config import HubSpotSandboxConfig

__all__ = ["HubSpotSandboxConfig", "create_app"]
