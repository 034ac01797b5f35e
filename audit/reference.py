"""Reference data every deployment starts with: the three technologies and the log's state row.

Used by the data migration (with historical models) and by test-database resets (with the real
models), so both create exactly the same rows.
"""

TECHNOLOGIES = [
    {
        "slug": "face-recognition",
        "name": "Facial recognition",
        "description": (
            "Compares a photo of an unknown person (a 'probe', such as a still from a camera) "
            "with a database of booking photos and suggests possible matches. A match is only a "
            "lead: an investigator must confirm it by other evidence before acting on it."
        ),
        "collects": (
            "The probe photo submitted by an investigator, the candidate photos returned, and "
            "who searched, when and why. Sightline keeps only a fingerprint of the probe."
        ),
        "does_not_collect": (
            "No live or continuous scanning of faces in public; no searches of social media "
            "photos; no tracking of people's movements."
        ),
        "retention_days": 365,
        "query_types": ["photo-probe", "video-still-probe"],
        "policy_text": (
            "Use only for investigating a specific criminal offense with a case number, with a "
            "supervisor's approval before each search. A possible match is an investigative "
            "lead and never the sole basis for an arrest. Prohibited: immigration enforcement, "
            "reproductive health care, and protest or other First Amendment activity."
        ),
        "requires_case_number": True,
        "requires_supervisor_approval": True,
        "min_justification_length": 30,
        "daily_volume_threshold": 15,
    },
    {
        "slug": "license-plate-reader",
        "name": "License plate readers",
        "description": (
            "Cameras that photograph the license plates of passing vehicles and record the "
            "plate, time and place. Investigators can search these reads for a plate connected "
            "to a crime, and receive alerts for plates on a hot list (such as stolen vehicles)."
        ),
        "collects": "Plate text, a photo of the vehicle, the camera location and the time.",
        "does_not_collect": (
            "No photos of drivers or passengers are searched; no link to vehicle registration "
            "records inside the system."
        ),
        "retention_days": 30,
        "query_types": [
            "plate-search",
            "partial-plate-search",
            "vehicle-attribute-search",
            "hotlist-alert",
        ],
        "policy_text": (
            "Searches need a case number or incident number and a specific reason. Hot-list "
            "alerts must be confirmed before a stop. Prohibited: immigration enforcement, "
            "reproductive health care, and protest or other First Amendment activity."
        ),
        "requires_case_number": True,
        "requires_supervisor_approval": False,
        "min_justification_length": 20,
        "daily_volume_threshold": 60,
    },
    {
        "slug": "nibin",
        "name": "NIBIN ballistic evidence",
        "description": (
            "The ATF's National Integrated Ballistic Information Network compares images of "
            "cartridge casings recovered at shootings and from test-fired guns, to link "
            "shootings to each other and to a firearm."
        ),
        "collects": "Images of fired cartridge casings and the case they belong to.",
        "does_not_collect": "No information about members of the public.",
        "retention_days": 3650,
        "query_types": ["casing-correlation", "firearm-trace"],
        "policy_text": (
            "Entries and correlations are made for shooting and firearm investigations with a "
            "case number."
        ),
        "requires_case_number": True,
        "requires_supervisor_approval": False,
        "min_justification_length": 15,
        "daily_volume_threshold": 40,
    },
]


def install_reference_data(Technology, LogState) -> None:
    """Create the technologies and the empty log state, leaving existing rows alone."""
    for spec in TECHNOLOGIES:
        fields = dict(spec)
        Technology.objects.get_or_create(slug=fields.pop("slug"), defaults=fields)
    LogState.objects.get_or_create(id=1, defaults={"size": 0, "frontier": []})
