//! Word lists the sample characters are made from. All invented for this project: the names are
//! combinations of ordinary words and common given names and surnames, not anyone's characters.

/// Titles in front of a code name.
pub const TITLES: &[&str] = &[
    "Captain",
    "Doctor",
    "Professor",
    "Lady",
    "Lord",
    "Madame",
    "Mister",
    "Baron",
    "Countess",
    "Agent",
    "Sister",
    "Brother",
    "General",
    "Commander",
    "Señor",
    "Señora",
    "Duchess",
    "Marshal",
    "Fräulein",
    "Admiral",
];

/// First halves of compound code names.
pub const STEMS: &[&str] = &[
    "Ember",
    "Frost",
    "Gale",
    "Thorn",
    "Cinder",
    "Quill",
    "Lumen",
    "Vanta",
    "Rook",
    "Hollow",
    "Brine",
    "Copper",
    "Static",
    "Velvet",
    "Marrow",
    "Ash",
    "Glimmer",
    "Riven",
    "Sable",
    "Tallow",
    "Nimbus",
    "Onyx",
    "Pyre",
    "Quartz",
    "Rust",
    "Saffron",
    "Tundra",
    "Umbra",
    "Verdigris",
    "Wisp",
    "Zephyr",
    "Moth",
    "Lantern",
    "Gossamer",
    "Cobalt",
    "Bramble",
    "Flint",
    "Harrow",
    "Kestrel",
    "Lodestar",
];

/// Second halves of compound code names.
pub const ENDINGS: &[&str] = &[
    "wake", "fall", "spark", "veil", "shard", "bloom", "crest", "forge", "lash", "ward", "wright",
    "strider", "call", "drift", "howl", "binder", "weaver", "born", "glass", "song", "mantle",
    "reach", "tide", "stitch", "knell",
];

/// Adjectives for "The {adjective} {role}" names.
pub const ADJECTIVES: &[&str] = &[
    "Crimson",
    "Silent",
    "Gilded",
    "Quiet",
    "Restless",
    "Midnight",
    "Paper",
    "Glass",
    "Clockwork",
    "Tidal",
    "Feral",
    "Luminous",
    "Rusted",
    "Electric",
    "Wandering",
    "Nameless",
    "Laughing",
    "Velvet",
    "Hollow",
    "Brazen",
];

/// Roles for "The {adjective} {role}" names.
pub const ROLES: &[&str] = &[
    "Tinker",
    "Cartographer",
    "Lamplighter",
    "Ferryman",
    "Archivist",
    "Alchemist",
    "Warden",
    "Locksmith",
    "Conductor",
    "Gardener",
    "Magistrate",
    "Courier",
    "Seamstress",
    "Beekeeper",
    "Astronomer",
    "Bellringer",
    "Glassblower",
    "Cooper",
    "Chandler",
    "Falconer",
];

/// Given names; several are not ASCII.
pub const GIVEN_NAMES: &[&str] = &[
    "Zoë", "José", "Søren", "Björn", "Ingrid", "Amélie", "Léa", "Jürgen", "Renée", "Chloé",
    "Émile", "Hana", "Kōji", "Yūna", "Mateo", "Aisha", "Tomasz", "Priya", "Olu", "Marit", "Dara",
    "Ines", "Kasimir", "Nadia", "Rafaël", "Sunniva", "Teodor", "Wren", "Ximena", "Yusuf",
];

/// Surnames; several are not ASCII.
pub const SURNAMES: &[&str] = &[
    "Müller",
    "Weiß",
    "Núñez",
    "Ibáñez",
    "Ōshima",
    "Kröger",
    "Strauß",
    "Dvořák",
    "Lindqvist",
    "Okonkwo",
    "Abernathy",
    "Castellanos",
    "Fairweather",
    "Haddad",
    "Ishikawa",
    "Kowalski",
    "Moreau",
    "Petrov",
    "Quintero",
    "Rasmussen",
    "Sandoval",
    "Thackeray",
    "Whitlock",
    "Yılmaz",
    "Åberg",
    "Ferreira",
    "Gallagher",
    "Halloran",
    "Ndiaye",
    "Østergaard",
];

/// Given names that are surely not ASCII, used when a name must be.
pub const ACCENTED_GIVEN_NAMES: &[&str] = &[
    "Zoë", "José", "Björn", "Amélie", "Léa", "Jürgen", "Renée", "Chloé", "Émile", "Kōji", "Yūna",
    "Rafaël",
];

/// Surnames that are surely not ASCII, used when a name must be.
pub const ACCENTED_SURNAMES: &[&str] = &[
    "Müller",
    "Weiß",
    "Núñez",
    "Ibáñez",
    "Ōshima",
    "Kröger",
    "Strauß",
    "Dvořák",
    "Åberg",
    "Østergaard",
];

/// Variants in parentheses, as Marvel names alternate versions of a character.
pub const VARIANTS: &[&str] = &[
    "Mk II",
    "Reborn",
    "Future",
    "Clone",
    "Nocturne Era",
    "Zürich",
    "Ōsaka",
    "Córdoba",
    "Year One",
    "Retired",
];

/// Fictional places.
pub const CITIES: &[&str] = &[
    "Port Aldwyn",
    "New Carrow",
    "Velmora",
    "Saint Osric",
    "Lake Tessaly",
    "Grauberg",
    "Marisól Bay",
    "Ōkubo Heights",
    "Fennick Falls",
    "Harrowgate",
];

/// How a character came by their gifts; `{city}` is replaced.
pub const ORIGINS: &[&str] = &[
    "grew up above a clockmaker's shop in {city}",
    "was struck by a meteorite fragment on a school trip to {city}",
    "inherited a humming brass compass from a great-aunt in {city}",
    "survived a flood in a sealed laboratory under {city}",
    "was raised by a travelling circus that wintered near {city}",
    "woke from a forty-year sleep beneath the streets of {city}",
    "swallowed a drop of starlight during an eclipse over {city}",
    "was the night-shift lighthouse keeper of {city} until the storm",
];

/// What they can do.
pub const POWERS: &[&str] = &[
    "bend light into solid bridges",
    "hear the thoughts of machines",
    "run along any wall or ceiling",
    "turn their shadow into a second self",
    "slow time inside a small circle",
    "summon swarms of paper birds",
    "harden their skin into living quartz",
    "read every language ever written",
    "pull the heat out of the air",
    "rewind small objects by a few minutes",
    "walk through mirrors",
    "call down fog at will",
];

/// Why a hero does it; `{city}` is replaced.
pub const HERO_MOTIVES: &[&str] = &[
    "Protects the night markets of {city} from anyone who would exploit them.",
    "Now mentors young heroes who are still learning to control their gifts.",
    "Keeps a promise to a friend who never came back.",
    "Answers every call for help, however small.",
    "Patrols the rooftops of {city} and leaves a paper bird wherever a rescue happened.",
];

/// Why a villain does it; `{city}` is replaced.
pub const VILLAIN_MOTIVES: &[&str] = &[
    "Wants to rule {city} as its one and only mayor, forever.",
    "Steals famous clocks to build a machine that will stop the sun.",
    "Believes the world would be quieter without heroes, and means to make it so.",
    "Sells borrowed powers to the highest bidder.",
    "Has sworn revenge on everyone who laughed at the science fair in {city}.",
];

/// Words for comic, series and event titles.
pub const SAGA_WORDS: &[&str] = &[
    "Eclipse",
    "Undertow",
    "Glasswork",
    "Long Night",
    "Paper Crown",
    "Iron Tide",
    "Last Lantern",
    "Hollow Sky",
    "Clockfall",
    "Ninth Door",
];
