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


# The same public text in Spanish, filled into the technologies' `*_es` fields where empty.
TECHNOLOGIES_ES = {
    "face-recognition": {
        "name_es": "Reconocimiento facial",
        "description_es": (
            "Compara la foto de una persona desconocida (una «sonda», como una imagen fija de "
            "una cámara) con una base de datos de fotos de fichaje policial y sugiere posibles "
            "coincidencias. Una coincidencia es solo una pista: un investigador debe "
            "confirmarla con otras pruebas antes de actuar."
        ),
        "collects_es": (
            "La foto sonda que envía un investigador, las fotos candidatas devueltas y quién "
            "buscó, cuándo y por qué. Sightline guarda solo una huella digital de la sonda."
        ),
        "does_not_collect_es": (
            "Ningún escaneo en vivo ni continuo de rostros en lugares públicos; ninguna búsqueda "
            "en fotos de redes sociales; ningún seguimiento de los movimientos de las personas."
        ),
        "policy_text_es": (
            "Se usa solo para investigar un delito concreto con número de caso, con la "
            "aprobación de un supervisor antes de cada búsqueda. Una posible coincidencia es "
            "una pista de investigación y nunca la única base para un arresto. Prohibido: el "
            "control migratorio, la atención de salud reproductiva y las protestas u otras "
            "actividades protegidas por la Primera Enmienda."
        ),
    },
    "license-plate-reader": {
        "name_es": "Lectores de matrículas",
        "description_es": (
            "Cámaras que fotografían las matrículas de los vehículos que pasan y registran la "
            "matrícula, la hora y el lugar. Los investigadores pueden buscar en estas lecturas "
            "una matrícula relacionada con un delito y reciben alertas de matrículas que "
            "figuran en una lista de vigilancia (como vehículos robados)."
        ),
        "collects_es": (
            "El texto de la matrícula, una foto del vehículo, el lugar de la cámara y la hora."
        ),
        "does_not_collect_es": (
            "No se buscan fotos de conductores ni pasajeros; el sistema no tiene enlace con los "
            "registros de vehículos."
        ),
        "policy_text_es": (
            "Las búsquedas necesitan un número de caso o de incidente y un motivo concreto. Las "
            "alertas de la lista de vigilancia deben confirmarse antes de detener un vehículo. "
            "Prohibido: el control migratorio, la atención de salud reproductiva y las "
            "protestas u otras actividades protegidas por la Primera Enmienda."
        ),
    },
    "nibin": {
        "name_es": "NIBIN: pruebas balísticas",
        "description_es": (
            "La Red Nacional Integrada de Información Balística de la ATF compara imágenes de "
            "casquillos recuperados en tiroteos y de armas disparadas en pruebas, para "
            "relacionar tiroteos entre sí y con un arma de fuego."
        ),
        "collects_es": "Imágenes de casquillos disparados y el caso al que pertenecen.",
        "does_not_collect_es": "Ninguna información sobre el público.",
        "policy_text_es": (
            "Las entradas y correlaciones se hacen en investigaciones de tiroteos y armas de "
            "fuego con número de caso."
        ),
    },
}


def install_spanish_text(Technology) -> None:
    """Fill the reference technologies' empty Spanish fields (staff edits are kept)."""
    for slug, fields in TECHNOLOGIES_ES.items():
        technology = Technology.objects.filter(slug=slug).first()
        if technology is None:
            continue
        empty = {name: text for name, text in fields.items() if not getattr(technology, name)}
        if empty:
            Technology.objects.filter(pk=technology.pk).update(**empty)


def install_reference_data(Technology, LogState) -> None:
    """Create the technologies and the empty log state, leaving existing rows alone."""
    for spec in TECHNOLOGIES:
        fields = dict(spec)
        Technology.objects.get_or_create(slug=fields.pop("slug"), defaults=fields)
    LogState.objects.get_or_create(id=1, defaults={"size": 0, "frontier": []})
