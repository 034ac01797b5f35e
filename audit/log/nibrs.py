"""NIBRS offense codes and their offense groups (FBI NIBRS User Manual) to classify queries."""

UNSPECIFIED = "unspecified"

# offense group name -> {code: offense name}
OFFENSE_GROUPS: dict[str, dict[str, str]] = {
    "Animal Cruelty": {"720": "Animal Cruelty"},
    "Arson": {"200": "Arson"},
    "Assault Offenses": {
        "13A": "Aggravated Assault",
        "13B": "Simple Assault",
        "13C": "Intimidation",
    },
    "Bribery": {"510": "Bribery"},
    "Burglary/Breaking & Entering": {"220": "Burglary/Breaking & Entering"},
    "Counterfeiting/Forgery": {"250": "Counterfeiting/Forgery"},
    "Destruction/Damage/Vandalism of Property": {"290": "Destruction/Damage/Vandalism"},
    "Drug/Narcotic Offenses": {
        "35A": "Drug/Narcotic Violations",
        "35B": "Drug Equipment Violations",
    },
    "Embezzlement": {"270": "Embezzlement"},
    "Extortion/Blackmail": {"210": "Extortion/Blackmail"},
    "Fraud Offenses": {
        "26A": "False Pretenses/Swindle/Confidence Game",
        "26B": "Credit Card/Automated Teller Machine Fraud",
        "26C": "Impersonation",
        "26D": "Welfare Fraud",
        "26E": "Wire Fraud",
        "26F": "Identity Theft",
        "26G": "Hacking/Computer Invasion",
        "26H": "Money Laundering",
    },
    "Gambling Offenses": {
        "39A": "Betting/Wagering",
        "39B": "Operating/Promoting/Assisting Gambling",
        "39C": "Gambling Equipment Violations",
        "39D": "Sports Tampering",
    },
    "Homicide Offenses": {
        "09A": "Murder and Nonnegligent Manslaughter",
        "09B": "Negligent Manslaughter",
        "09C": "Justifiable Homicide",
    },
    "Human Trafficking": {"64A": "Commercial Sex Acts", "64B": "Involuntary Servitude"},
    "Immigration Violations": {
        "30A": "Illegal Entry into the United States",
        "30B": "False Citizenship",
        "30C": "Smuggling Aliens",
        "30D": "Re-entry after Deportation",
    },
    "Kidnapping/Abduction": {"100": "Kidnapping/Abduction"},
    "Larceny/Theft Offenses": {
        "23A": "Pocket-picking",
        "23B": "Purse-snatching",
        "23C": "Shoplifting",
        "23D": "Theft From Building",
        "23E": "Theft From Coin-Operated Machine or Device",
        "23F": "Theft From Motor Vehicle",
        "23G": "Theft of Motor Vehicle Parts or Accessories",
        "23H": "All Other Larceny",
    },
    "Motor Vehicle Theft": {"240": "Motor Vehicle Theft"},
    "Pornography/Obscene Material": {"370": "Pornography/Obscene Material"},
    "Prostitution Offenses": {
        "40A": "Prostitution",
        "40B": "Assisting or Promoting Prostitution",
        "40C": "Purchasing Prostitution",
    },
    "Robbery": {"120": "Robbery"},
    "Sex Offenses": {
        "11A": "Rape",
        "11B": "Sodomy",
        "11C": "Sexual Assault With An Object",
        "11D": "Fondling",
        "36A": "Incest",
        "36B": "Statutory Rape",
    },
    "Stolen Property Offenses": {"280": "Stolen Property Offenses"},
    "Weapon Law Violations": {
        "520": "Weapon Law Violations",
        "521": "Violation of National Firearm Act of 1934",
        "522": "Weapons of Mass Destruction",
        "526": "Explosives",
    },
    "Group B Offenses": {
        "90A": "Bad Checks",
        "90B": "Curfew/Loitering/Vagrancy Violations",
        "90C": "Disorderly Conduct",
        "90D": "Driving Under the Influence",
        "90F": "Family Offenses, Nonviolent",
        "90G": "Liquor Law Violations",
        "90J": "Trespass of Real Property",
        "90Z": "All Other Offenses",
    },
}

OFFENSE_CATEGORY_BY_CODE: dict[str, str] = {
    code: group for group, offenses in OFFENSE_GROUPS.items() for code in offenses
}
OFFENSE_NAME_BY_CODE: dict[str, str] = {
    code: name for offenses in OFFENSE_GROUPS.values() for code, name in offenses.items()
}

# Groups counted as violent crime in council reports.
VIOLENT_CATEGORIES = frozenset(
    {
        "Homicide Offenses",
        "Assault Offenses",
        "Robbery",
        "Sex Offenses",
        "Kidnapping/Abduction",
        "Human Trafficking",
    }
)


def offense_category(code: str) -> str:
    """The NIBRS offense group of a code, or "unspecified" for a blank or unknown code."""
    return OFFENSE_CATEGORY_BY_CODE.get(code.strip().upper(), UNSPECIFIED) if code else UNSPECIFIED
