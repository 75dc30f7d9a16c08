"""Property definitions (HubSpot `Property` objects) for each object type, built-in and custom.

A `PropertyRegistry` holds the live definitions of one sandbox portal; properties created at
runtime through the Properties API or the admin interface are added to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.common.timefmt import iso_ms
from sandbox.hubspot.objtypes import ALL_TYPES, CATALOG_TYPES, ObjectType

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "MARKETING_AND_ADVERTISING",
    "EDUCATION_MANAGEMENT",
    "CONSTRUCTION",
    "TELECOMMUNICATIONS",
)
CUSTOM_OPTIONS = ("option_a", "option_b", "option_c")
READ_ONLY = frozenset({"hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"})

# (name, label, type, fieldType, options)
_Spec = tuple[str, str, str, str, tuple[str, ...]]
_BUILTIN: dict[str, list[_Spec]] = {
    "contacts": [
        ("firstname", "First Name", "string", "text", ()),
        ("lastname", "Last Name", "string", "text", ()),
        ("email", "Email", "string", "text", ()),
        ("phone", "Phone Number", "string", "phonenumber", ()),
        ("company", "Company Name", "string", "text", ()),
        ("website", "Website URL", "string", "text", ()),
        ("city", "City", "string", "text", ()),
        ("state", "State/Region", "string", "text", ()),
        ("country", "Country/Region", "string", "text", ()),
        ("jobtitle", "Job Title", "string", "text", ()),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", LIFECYCLE_STAGES),
        ("hs_lead_status", "Lead Status", "enumeration", "radio", LEAD_STATUSES),
        ("createdate", "Create Date", "datetime", "date", ()),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date", ()),
        ("hs_object_id", "Record ID", "number", "number", ()),
    ],
    "companies": [
        ("name", "Company name", "string", "text", ()),
        ("domain", "Company Domain Name", "string", "text", ()),
        ("industry", "Industry", "enumeration", "select", INDUSTRIES),
        ("city", "City", "string", "text", ()),
        ("country", "Country/Region", "string", "text", ()),
        ("phone", "Phone Number", "string", "phonenumber", ()),
        ("numberofemployees", "Number of Employees", "number", "number", ()),
        ("annualrevenue", "Annual Revenue", "number", "number", ()),
        ("createdate", "Create Date", "datetime", "date", ()),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", ()),
        ("hs_object_id", "Record ID", "number", "number", ()),
    ],
    "deals": [
        ("dealname", "Deal Name", "string", "text", ()),
        ("amount", "Amount", "number", "number", ()),
        ("dealstage", "Deal Stage", "enumeration", "radio", DEAL_STAGES),
        ("pipeline", "Pipeline", "enumeration", "select", ("default",)),
        ("closedate", "Close Date", "datetime", "date", ()),
        ("createdate", "Create Date", "datetime", "date", ()),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", ()),
        ("hs_object_id", "Record ID", "number", "number", ()),
    ],
}
# Catalog types (no records in the sandbox): a few of HubSpot's default properties each, enough
# for clients that build a schema from the definitions. Every type also gets the common three.
_COMMON: list[_Spec] = [
    ("hs_createdate", "Create Date", "datetime", "date", ()),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", ()),
    ("hs_object_id", "Record ID", "number", "number", ()),
]
_ENGAGEMENT = ("hs_timestamp", "Activity date", "datetime", "date", ())
_OWNER = ("hubspot_owner_id", "Owner", "enumeration", "select", ())
_CATALOG_BUILTIN: dict[str, list[_Spec]] = {
    "tickets": [
        ("subject", "Ticket name", "string", "text", ()),
        ("content", "Ticket description", "string", "textarea", ()),
        ("hs_pipeline", "Pipeline", "enumeration", "select", ("0",)),
        ("hs_pipeline_stage", "Ticket status", "enumeration", "select", ("1", "2", "3", "4")),
        ("hs_ticket_priority", "Priority", "enumeration", "select", ("LOW", "MEDIUM", "HIGH")),
        _OWNER,
    ],
    "products": [
        ("name", "Name", "string", "text", ()),
        ("description", "Description", "string", "textarea", ()),
        ("price", "Unit price", "number", "number", ()),
    ],
    "line_items": [
        ("name", "Name", "string", "text", ()),
        ("quantity", "Quantity", "number", "number", ()),
        ("price", "Unit price", "number", "number", ()),
        ("amount", "Net price", "number", "calculation_equation", ()),
        ("hs_product_id", "Product ID", "number", "number", ()),
    ],
    "quotes": [
        ("hs_title", "Quote name", "string", "text", ()),
        ("hs_expiration_date", "Expiration date", "datetime", "date", ()),
        _OWNER,
    ],
    "communications": [
        ("hs_communication_channel_type", "Channel type", "enumeration", "select", ("SMS",)),
        ("hs_communication_body", "Communication body", "string", "textarea", ()),
        _ENGAGEMENT,
        _OWNER,
    ],
    "feedback_submissions": [
        ("hs_survey_type", "Survey type", "enumeration", "select", ("NPS", "CSAT", "CES")),
        ("hs_response_group", "Response group", "enumeration", "select", ("PROMOTER",)),
    ],
    "tasks": [
        ("hs_task_subject", "Task title", "string", "text", ()),
        ("hs_task_body", "Task notes", "string", "textarea", ()),
        ("hs_task_status", "Task status", "enumeration", "select", ("NOT_STARTED", "COMPLETED")),
        _ENGAGEMENT,
        _OWNER,
    ],
    "notes": [("hs_note_body", "Note body", "string", "textarea", ()), _ENGAGEMENT, _OWNER],
    "meetings": [
        ("hs_meeting_title", "Meeting name", "string", "text", ()),
        ("hs_meeting_body", "Meeting description", "string", "textarea", ()),
        _ENGAGEMENT,
        _OWNER,
    ],
    "calls": [
        ("hs_call_title", "Call title", "string", "text", ()),
        ("hs_call_body", "Call notes", "string", "textarea", ()),
        ("hs_call_duration", "Call duration", "number", "number", ()),
        _ENGAGEMENT,
        _OWNER,
    ],
    "emails": [
        ("hs_email_subject", "Email subject", "string", "text", ()),
        ("hs_email_text", "Email body", "string", "textarea", ()),
        _ENGAGEMENT,
        _OWNER,
    ],
    "goal_targets": [
        ("hs_goal_name", "Goal name", "string", "text", ()),
        ("hs_target_amount", "Target", "number", "number", ()),
    ],
    "postal_mail": [("hs_postal_mail_body", "Postal mail body", "string", "textarea", ())],
    "leads": [
        ("hs_lead_name", "Lead name", "string", "text", ()),
        ("hs_pipeline_stage", "Lead stage", "enumeration", "select", ("new-stage-id",)),
        _OWNER,
    ],
}
# custom property k (1-based) has kind CUSTOM_KINDS[(k - 1) % 5]
CUSTOM_KINDS: tuple[tuple[str, str], ...] = (
    ("string", "text"),
    ("enumeration", "select"),
    ("number", "number"),
    ("datetime", "date"),
    ("bool", "booleancheckbox"),
)


@dataclass(slots=True)
class PropertyDef:
    """One property of one object type; `to_json` renders HubSpot's `Property` object."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: tuple[str, ...] = ()
    hubspot_defined: bool = False
    description: str = ""
    display_order: int = -1
    created_ms: int = 0
    updated_ms: int = 0
    archived: bool = False
    archived_ms: int | None = None
    has_unique_value: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "updatedAt": iso_ms(self.updated_ms),
            "createdAt": iso_ms(self.created_ms),
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [
                {
                    "label": o.replace("_", " ").title(),
                    "value": o,
                    "displayOrder": n,
                    "hidden": False,
                    "description": "",
                }
                for n, o in enumerate(self.options)
            ],
            "displayOrder": self.display_order,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "formField": self.field_type not in ("calculation_equation",),
            "dataSensitivity": "non_sensitive",
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.name in READ_ONLY,
            },
            "archived": self.archived,
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        if self.archived_ms is not None:
            body["archivedAt"] = iso_ms(self.archived_ms)
        body.update(self.extra)
        return body

    def to_v2_json(self) -> dict[str, object]:
        """The legacy Properties API (v1/v2) shape: epoch-ms times, `deleted` for `archived`,
        `hubspotDefined` true or null, flat read-only flags and options with `readOnly`."""
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "groupName": self.group_name,
            "type": self.type,
            "fieldType": self.field_type,
            "fieldLevelPermission": None,
            "hidden": False,
            "options": [
                {
                    "description": None,
                    "label": o.replace("_", " ").title(),
                    "displayOrder": n,
                    "hidden": False,
                    "value": o,
                    "readOnly": False,
                    "doubleData": None,
                }
                for n, o in enumerate(self.options)
            ],
            "deleted": self.archived,
            "createdAt": self.created_ms,
            "updatedAt": self.updated_ms,
            "displayOrder": self.display_order,
            "readOnlyValue": self.name in READ_ONLY,
            "readOnlyDefinition": self.hubspot_defined,
            "mutableDefinitionNotDeletable": self.hubspot_defined,
            "favorited": False,
            "favoritedOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "displayMode": "current_value",
            "showCurrencySymbol": None,
            "hubspotDefined": True if self.hubspot_defined else None,
            "formField": self.field_type not in ("calculation_equation",),
            "createdUserId": None,
            "updatedUserId": None,
            "searchableInGlobalSearch": False,
            "currencyPropertyName": None,
            "hasUniqueValue": self.has_unique_value,
            "numberDisplayHint": None,
            "textDisplayHint": None,
            "optionsAreMutable": None,
            "referencedObjectType": None,
            "isCustomizedDefault": False,
        }


class PropertyRegistry:
    """The property definitions of every object type in one sandbox portal."""

    def __init__(self, custom_count: int, created_ms: int) -> None:
        self.by_type: dict[str, dict[str, PropertyDef]] = {}
        for otype in ALL_TYPES:
            props: dict[str, PropertyDef] = {}
            group = f"{otype.singular}information"
            for n, (name, label, ptype, ftype, opts) in enumerate(_BUILTIN[otype.name]):
                props[name] = PropertyDef(
                    name,
                    label,
                    ptype,
                    ftype,
                    group,
                    opts,
                    hubspot_defined=True,
                    display_order=n if n < 5 else -1,
                    created_ms=created_ms,
                    updated_ms=created_ms,
                    has_unique_value=name == "hs_object_id",
                )
            for k in range(1, custom_count + 1):
                ptype, ftype = CUSTOM_KINDS[(k - 1) % len(CUSTOM_KINDS)]
                opts = CUSTOM_OPTIONS if ptype == "enumeration" else ()
                if ptype == "bool":
                    opts = ("true", "false")
                props[f"custom_prop_{k}"] = PropertyDef(
                    f"custom_prop_{k}",
                    f"Custom property {k}",
                    ptype,
                    ftype,
                    group,
                    opts,
                    created_ms=created_ms,
                    updated_ms=created_ms,
                )
            self.by_type[otype.name] = props
        for otype in CATALOG_TYPES:
            specs = _CATALOG_BUILTIN[otype.name] + _COMMON
            self.by_type[otype.name] = {
                name: PropertyDef(
                    name,
                    label,
                    ptype,
                    ftype,
                    f"{otype.singular}information",
                    opts,
                    hubspot_defined=True,
                    created_ms=created_ms,
                    updated_ms=created_ms,
                    has_unique_value=name == "hs_object_id",
                )
                for name, label, ptype, ftype, opts in specs
            }

    def live(self, otype: ObjectType) -> dict[str, PropertyDef]:
        """Non-archived properties of a type, by name."""
        return {n: p for n, p in self.by_type[otype.name].items() if not p.archived}

    def get(self, otype: ObjectType, name: str) -> PropertyDef | None:
        prop = self.by_type[otype.name].get(name)
        return None if prop is None or prop.archived else prop

    def add(self, otype: ObjectType, prop: PropertyDef) -> None:
        self.by_type[otype.name][prop.name] = prop
