"""Flask blueprints of the HubSpot sandbox, one per API concern."""
