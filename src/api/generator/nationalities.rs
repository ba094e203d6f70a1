//! Static data for the 21 nationalities of the randomuser.me API, version 1.4.
//!
//! The deterministic generator picks names, streets, cities and states from these lists and
//! expands the format patterns below, so that generated users look like those of the real API.
//! Formats were checked against real 1.4 responses (`fixtures/randomuser/real-1.json`, 111
//! records covering all 21 nationalities); the lists start with every value seen there.
//!
//! # Pattern syntax
//!
//! `phone`, `cell`, `id_value` and [`Postcode::Text`] are patterns, expanded character by
//! character:
//!
//! * `#` becomes one random digit `0`-`9`;
//! * `A` becomes one random uppercase ASCII letter `A`-`Z`;
//! * a backslash makes the next character literal;
//! * every other character is copied literally.
//!
//! So `"(###) ###-####"` gives `"(341) 298-0600"` and `"A#A #A#"` gives `"B6B 6V2"`. FI's
//! broken HETU keeps its capital A with the escape: `"NaNN\\A###undefined"` gives
//! `"NaNNA229undefined"`, as the real API does.
//!
//! # Names and e-mail addresses
//!
//! The API builds the e-mail as `first.last@example.com`, transliterated to ASCII, spaces
//! removed and lowercased ("Van Andel" gives `vanandel`, "Horst-Günter" gives `horst-gunter`).
//!
//! * Names in a non-Latin script (the Persian names of IR) are written `"display|ascii"`: the
//!   part before `|` is the name shown, the part after it is what goes into the e-mail
//!   (`"یسنا|ysn"` and `"کامروا|khmrw"` give `ysn.khmrw@example.com`). The ASCII part is already
//!   lowercase and has no spaces. It was made letter by letter with the charmap of the npm
//!   `transliteration` package the API uses (ا → nothing, آ → a, ک → kh, ع → aa, ژ → j, ...),
//!   which reproduces every IR e-mail in the fixtures.
//! * Latin names are written plainly, diacritics included; the generator folds them to ASCII
//!   by stripping the diacritics, with these special cases: `ß` → `ss`, `æ` → `ae`, `ø` → `o`,
//!   `ı` (dotless i) → `i`, `đ`/`Đ` → `d`/`D`.
//!
//! Non-ASCII Latin characters used in names (`male_first`, `female_first`, `last`), which the
//! fold table must cover:
//!
//! `ÁÅÇÉÓÖØßáâãäåæçèéëíïñóôöøúüćčĐđğİıŞşŠšŽž`
//!
//! Further non-ASCII Latin characters that appear only in streets, cities and states (shown
//! as they are, never folded): `îČ`.
//!
//! Streets, cities and states of IR are in Persian script and carry no ASCII form, as they
//! never enter the e-mail.
//!
//! # Quirks kept on purpose
//!
//! * Some Brazilian streets (`"Rua São Paulo "`, ...) and one Serbian street (`"Miloša Bajića "`)
//!   end with a space, and the Danish city `"Kongens  Lyngby"` has two spaces: the real API
//!   writes them that way.
//! * Streets carry no house number; the generator adds one in `1..=9999`.
//! * FI ids are the API's garbage `"NaNNA###undefined"`; IR, NZ, TR and UA have no id
//!   (`id_name` is `""`, `id_value` is `None`, sent as JSON `null`).

/// How a nationality writes its postcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Postcode {
    /// A JSON integer drawn uniformly from `min..=max`. Most nationalities use `10000..=99999`;
    /// AU uses `200..=9999` and CH `1000..=9999`, so AU values below 1000 (e.g. 473) occur.
    Int {
        /// Smallest value, inclusive.
        min: u32,
        /// Largest value, inclusive.
        max: u32,
    },
    /// A JSON string expanded from a pattern (see the module docs), e.g. CA `"A#A #A#"`,
    /// GB `"A# #AA"`, NL `"#### AA"`, NO `"####"` (digits, but still a string).
    Text(&'static str),
}

/// Everything the generator needs to make users of one nationality look like the real API's.
#[derive(Debug)]
pub struct Nationality {
    /// The API's nationality code, uppercase, e.g. `"AU"`.
    pub code: &'static str,
    /// `location.country` exactly as the API writes it, e.g. `"United Kingdom"`.
    pub country: &'static str,
    /// How `location.postcode` is made, and whether it is a JSON number or string.
    pub postcode: Postcode,
    /// Pattern for the `phone` field (landline).
    pub phone: &'static str,
    /// Pattern for the `cell` field (mobile).
    pub cell: &'static str,
    /// `id.name`, e.g. `"TFN"`; `""` when the API gives none.
    pub id_name: &'static str,
    /// Pattern for `id.value`; `None` means the API sends `null`.
    pub id_value: Option<&'static str>,
    /// Titles for men, picked uniformly (`"Mr"`, or `"Monsieur"` for CH).
    pub male_titles: &'static [&'static str],
    /// Titles for women, picked uniformly (`"Miss"`, `"Mrs"`, `"Ms"`; CH uses French titles).
    pub female_titles: &'static [&'static str],
    /// Male first names (`"display|ascii"` for non-Latin scripts, see the module docs).
    pub male_first: &'static [&'static str],
    /// Female first names (`"display|ascii"` for non-Latin scripts).
    pub female_first: &'static [&'static str],
    /// Last names, shared by both genders (`"display|ascii"` for non-Latin scripts).
    pub last: &'static [&'static str],
    /// Street names without the house number (`location.street.name`).
    pub streets: &'static [&'static str],
    /// City names (`location.city`).
    pub cities: &'static [&'static str],
    /// States, provinces, regions or counties (`location.state`).
    pub states: &'static [&'static str],
}

const MR: &[&str] = &["Mr"];
const MISS_MRS_MS: &[&str] = &["Miss", "Mrs", "Ms"];

/// All 21 nationalities of API version 1.4, in alphabetical order of code.
pub static NATIONALITIES: [Nationality; 21] = [
    // AU: Australia
    Nationality {
        code: "AU",
        country: "Australia",
        postcode: Postcode::Int { min: 200, max: 9999 },
        phone: "0#-####-####",
        cell: "04##-###-###",
        id_name: "TFN",
        id_value: Some("#########"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Leon", "Charles", "Clifton", "Kevin", "Landon", "Dave", "Tim", "Darryl", "Jack",
            "William", "Oliver", "Thomas", "James", "Lucas", "Noah", "Harry", "Ethan", "Liam",
            "Henry", "Samuel", "Max", "Cooper", "Riley", "Lachlan", "Mason", "Brayden", "Jordan",
        ],
        female_first: &[
            "Aubree", "Kenzi", "Tara", "Becky", "Charlotte", "Olivia", "Ava", "Mia", "Chloe",
            "Emily", "Isabella", "Sophie", "Ruby", "Grace", "Zoe", "Ella", "Lily", "Hannah",
            "Amelia", "Jessica", "Sarah", "Kylie", "Jasmine", "Kaitlin",
        ],
        last: &[
            "Nichols", "Anderson", "Fowler", "Hoffman", "Cook", "Bell", "Gilbert", "Wells", "Pena",
            "Romero", "Bates", "Little", "Harper", "Smith", "Jones", "Williams", "Brown", "Wilson",
            "Taylor", "Johnson", "White", "Martin", "Thompson", "Walker", "Harris", "Lee", "Ryan",
            "Robinson", "Kelly", "King", "Davis", "Wright", "Evans", "Campbell", "Stevens", "Lucas",
        ],
        streets: &[
            "E Sandy Lake Rd", "Bollinger Rd", "Photinia Ave", "College St", "Taylor St",
            "Karen Dr", "Thornridge Cir", "E Center St", "Paddock Way", "Eason Rd", "Adams St",
            "Prospect Rd", "Green Rd", "Pockrus Page Rd", "Hunters Creek Dr", "Mockingbird Hill",
            "W Dallas St", "Ranchview Dr", "Valwood Pkwy", "Smokey Ln", "Mcclellan Rd", "Cherry St",
            "Fincher Rd", "Parker Rd",
        ],
        cities: &[
            "Bendigo", "Maitland", "Kalgoorlie", "Orange", "Brisbane", "Mackay", "Townsville",
            "Devonport", "Tamworth", "Nowra", "Cairns", "Sydney", "Melbourne", "Perth", "Adelaide",
            "Hobart", "Darwin", "Geelong", "Wollongong", "Ballarat", "Newcastle", "Toowoomba",
            "Bunbury", "Rockhampton", "Wagga Wagga", "Albury", "Launceston", "Mildura",
            "Shepparton", "Bathurst",
        ],
        states: &[
            "Australian Capital Territory", "New South Wales", "Northern Territory", "Queensland",
            "South Australia", "Tasmania", "Victoria", "Western Australia",
        ],
    },
    // BR: Brazil
    Nationality {
        code: "BR",
        country: "Brazil",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "(##) ####-####",
        cell: "(##) ####-####",
        id_name: "CPF",
        id_value: Some("###.###.###-##"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Adolfo", "Gilberto", "Aramis", "Mel", "Filinto", "Ismael", "João", "Pedro", "Lucas",
            "Gabriel", "Rafael", "Matheus", "Thiago", "Rodrigo", "Felipe", "Diego", "Leandro",
            "Marcelo", "Vicente", "Otávio", "Caio", "Heitor", "Aurélio", "Raul", "Severino",
            "Anselmo",
        ],
        female_first: &[
            "Cátia", "Rica", "Elenice", "Cândida", "Nandielly", "Melina", "Ana", "Maria", "Juliana",
            "Fernanda", "Beatriz", "Larissa", "Camila", "Luciana", "Letícia", "Patrícia", "Sílvia",
            "Regiane", "Vitória", "Joana", "Débora", "Iolanda", "Marta", "Jussara", "Gislaine",
        ],
        last: &[
            "Pires", "Lima", "Cavalcanti", "Dias", "Santos", "Rodrigues", "Moura", "Ferreira",
            "Silveira", "Peixoto", "Martins", "Silva", "Souza", "Oliveira", "Costa", "Pereira",
            "Almeida", "Nascimento", "Carvalho", "Gomes", "Ribeiro", "Araújo", "Barros", "Rocha",
            "Monteiro", "Moreira", "Nunes", "Teixeira", "Cardoso", "Mendes", "Castro", "Freitas",
            "da Rocha", "da Cunha", "da Mota", "da Paz", "da Luz", "da Conceição",
        ],
        streets: &[
            "Rua São Paulo ", "Travessa dos Martírios", "Rua Dezessete ", "Rua Tiradentes ",
            "Rua Dois", "Rua Rui Barbosa ", "Rua Mato Grosso ", "Rua Treze de Maio ",
            "Beco dos Namorados", "Rua São José ", "Rua Vinte de Setembro", "Rua Quatro",
            "Rua Sete de Setembro", "Rua Santa Catarina", "Rua Paraná", "Rua Bahia",
            "Rua Castro Alves", "Rua Minas Gerais", "Rua Quinze de Novembro", "Avenida Brasil",
            "Rua da Paz", "Rua Principal", "Rua Santa Luzia", "Rua Belo Horizonte",
        ],
        cities: &[
            "Paulo Afonso", "Diadema", "Igarassu", "Cametá", "Barreiras", "Crato", "Rio Branco",
            "Bragança", "São Gonçalo", "Montes Claros", "Chapecó", "Jandira", "São Paulo",
            "Rio de Janeiro", "Belo Horizonte", "Salvador", "Fortaleza", "Curitiba", "Manaus",
            "Recife", "Porto Alegre", "Belém", "Goiânia", "Campinas", "Maringá",
            "Juazeiro do Norte", "Itaboraí", "Sobral", "Petrópolis", "Uberaba",
        ],
        states: &[
            "Acre", "Alagoas", "Amapá", "Amazonas", "Bahia", "Ceará", "Distrito Federal",
            "Espírito Santo", "Goiás", "Maranhão", "Mato Grosso", "Mato Grosso do Sul",
            "Minas Gerais", "Pará", "Paraíba", "Paraná", "Pernambuco", "Piauí", "Rio de Janeiro",
            "Rio Grande do Norte", "Rio Grande do Sul", "Rondônia", "Roraima", "Santa Catarina",
            "São Paulo", "Sergipe", "Tocantins",
        ],
    },
    // CA: Canada
    Nationality {
        code: "CA",
        country: "Canada",
        postcode: Postcode::Text("A#A #A#"),
        phone: "A## A##-####",
        cell: "A## A##-####",
        id_name: "SIN",
        id_value: Some("#########"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Daniel", "Zachary", "Owen", "Arthur", "Nicolas", "Ryan", "Samuel", "Vincent", "Liam",
            "Noah", "William", "Benjamin", "Lucas", "Jacob", "Nathan", "Logan", "Felix", "Thomas",
            "Mathis", "Alexander", "Ethan", "Jayden", "Victor", "Hunter", "Xavier",
        ],
        female_first: &[
            "Clara", "Charlotte", "Emma", "Olivia", "Sophie", "Chloe", "Léa", "Zoe", "Maya",
            "Juliette", "Florence", "Rosalie", "Jade", "Alice", "Abigail", "Camille", "Ava",
            "Madison", "Mia", "Hailey", "Ella", "Sarah", "Laurie", "Victoria", "Amelia",
        ],
        last: &[
            "Wilson", "Johnson", "Scott", "Chow", "Tremblay", "Williams", "Chu", "Ma", "Harris",
            "Young", "Denys", "Lévesque", "Roy", "Gagnon", "Côté", "Bouchard", "Gauthier", "Morin",
            "Lavoie", "Fortin", "Gagné", "Ouellet", "Pelletier", "Bélanger", "Smith", "Brown",
            "Martin", "Thompson", "White", "Lam", "Wong", "Li", "Singh", "Campbell", "Stewart",
            "Anderson", "Mitchell", "Roberts",
        ],
        streets: &[
            "Dufferin St", "Concession Road 23", "Cedar St", "Peel St", "Lakeview Ave",
            "College Ave", "Simcoe St", "Grand Marais Ave", "Victoria Ave", "Maple Ave",
            "Coastal Highway", "Main St", "King St", "Queen St", "Regent Ave", "Bay Ave",
            "Brock Rd", "Balmoral St", "Dundas Rd", "Parliament St", "Pine Rd", "George St",
            "Frederick Ave", "St. Lawrence Ave", "Arctic Way",
        ],
        cities: &[
            "Elgin", "Lafontaine", "Chatham", "Greenwood", "Inwood", "Delta", "Waterloo", "Lasalle",
            "Maidstone", "Beaumont", "Toronto", "Montreal", "Vancouver", "Calgary", "Ottawa",
            "Edmonton", "Winnipeg", "Halifax", "Victoria", "Regina", "Saskatoon", "Kingston",
            "Brampton", "Mississauga", "Burlington", "Stirling", "Vanier", "Oakville",
            "Fountainbleu", "Souris",
        ],
        states: &[
            "Alberta", "British Columbia", "Manitoba", "New Brunswick", "Newfoundland and Labrador",
            "Northwest Territories", "Nova Scotia", "Nunavut", "Ontario", "Prince Edward Island",
            "Québec", "Saskatchewan", "Yukon",
        ],
    },
    // CH: Switzerland
    Nationality {
        code: "CH",
        country: "Switzerland",
        postcode: Postcode::Int { min: 1000, max: 9999 },
        phone: "07# ### ## ##",
        cell: "07# ### ## ##",
        id_name: "AVS",
        id_value: Some("756.####.####.##"),
        male_titles: &["Monsieur"],
        female_titles: &["Madame", "Mademoiselle"],
        male_first: &[
            "Attila", "Heinrich", "Luan", "Dario", "Sergio", "Ernest", "Levin", "Fabian", "Mathis",
            "Noah", "Luca", "Leon", "Elias", "Nico", "Julien", "Matteo", "Marco", "Jonas", "Loris",
            "Nils", "Yannick", "Thomas", "Pascal", "Reto", "Urs", "Beat", "Gian",
        ],
        female_first: &[
            "Giorgia", "Michèle", "Laurine", "Lea", "Mia", "Lina", "Elena", "Sara", "Anna",
            "Chiara", "Nina", "Céline", "Nadine", "Sandra", "Ursula", "Verena", "Annina", "Rahel",
            "Noémie", "Manon", "Alessia", "Aurora", "Jeanne", "Simone",
        ],
        last: &[
            "Bernard", "Petit", "Guillot", "Muller", "Francois", "Blanchard", "Bonnet", "Caron",
            "Jean", "Dupuis", "Michel", "Adam", "Lefebvre", "Mercier", "Girard", "Fontaine", "Roux",
            "Fournier", "Morel", "Lambert", "Gauthier", "Robin", "Gerard", "Perrin", "Renaud",
            "Leclerc", "Brunet", "Garnier", "Rey", "Meyer", "Aubert", "Colin", "Chevalier", "Roche",
            "Marchand", "Henry", "Lemaire", "Vidal", "Joly", "Dumont",
        ],
        streets: &[
            "Place de L'Abbé-Franz-Stock", "Rue Principale", "Rue Cyrus-Hugues", "Rue Baraban",
            "Rue Barrème", "Rue de L'Abbé-Grégoire", "Rue des Écrivains", "Rue de la Gare",
            "Rue de la Barre", "Avenue Tony-Garnier", "Rue Victor-Hugo", "Montée Saint-Barthélémy",
            "Rue du Bât-d'Argent", "Rue Pasteur", "Rue de L'Église", "Avenue du Château",
            "Rue Dumenge", "Rue du Dauphiné", "Rue Louis-Blanqui", "Rue des Cuirassiers",
            "Place du 8 Février 1945", "Rue de la Mairie", "Quai Charles-De-Gaulle",
        ],
        cities: &[
            "Laconnex", "Greifensee", "Obergerlafingen", "Rümlang", "Bergün/Bravuogn", "Arbaz",
            "Villars-sur-Glâne", "Sergey", "Bettmeralp", "Steinach", "St-Saphorin-sur-Morges",
            "Romanel-sur-Morges", "Bern", "Basel", "Lausanne", "Winterthur", "Luzern", "St. Gallen",
            "Lugano", "Biel/Bienne", "Thun", "Köniz", "La Chaux-de-Fonds", "Fribourg",
            "Schaffhausen", "Chur", "Vernier", "Neuchâtel", "Sion", "Uster", "Emmen", "Zug",
            "Genève", "Zürich",
        ],
        states: &[
            "Aargau", "Appenzell Ausserrhoden", "Appenzell Innerrhoden", "Basel-Landschaft",
            "Basel-Stadt", "Bern", "Fribourg", "Genève", "Glarus", "Graubünden", "Jura", "Luzern",
            "Neuchâtel", "Nidwalden", "Obwalden", "Schaffhausen", "Schwyz", "Solothurn",
            "St. Gallen", "Thurgau", "Ticino", "Uri", "Valais", "Vaud", "Zug", "Zürich",
        ],
    },
    // DE: Germany
    Nationality {
        code: "DE",
        country: "Germany",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "0###-#######",
        cell: "017#-#######",
        id_name: "SVNR",
        id_value: Some("## ###### A ###"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Horst-Günter", "Eduard", "Urban", "Jens", "Sieghard", "Klaus-Günter", "Jürgen",
            "Hans-Peter", "Wolfgang", "Dieter", "Manfred", "Uwe", "Thorsten", "Lukas", "Jonas",
            "Leon", "Finn", "Felix", "Maximilian", "Tobias", "Matthias", "Reinhold", "Dirk",
            "Rüdiger", "Björn", "Karl-Heinz",
        ],
        female_first: &[
            "Loretta", "Rahel", "Josefine", "Marcella", "Larissa", "Tara", "Hannelore", "Gisela",
            "Ursula", "Ingrid", "Helga", "Sabine", "Petra", "Anja", "Jutta", "Brigitte", "Heike",
            "Ilse", "Marlies", "Lena", "Lea", "Emma", "Mia", "Jana", "Kerstin", "Gerda", "Käthe",
        ],
        last: &[
            "Habermann", "Korte", "Marquardt", "Sieber", "Krause", "Michler", "Kürschner",
            "Neubert", "Fromme", "Risch", "Nitschke", "Hempel", "Müller", "Schmidt", "Schneider",
            "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer",
            "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
            "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
            "Köhler", "Brandt", "Vogel", "Weiß",
        ],
        streets: &[
            "Fasanenweg", "Bahnhofstraße", "Ahornweg", "Lerchenweg", "Raiffeisenstraße",
            "Kirchgasse", "Tannenweg", "Danziger Straße", "Bachstraße", "Am Bahnhof",
            "Kastanienweg", "Dorfstraße", "Hauptstraße", "Schulstraße", "Gartenstraße",
            "Lindenstraße", "Birkenweg", "Mühlenweg", "Goethestraße", "Schillerstraße",
            "Rosenstraße", "Waldstraße", "Friedhofstraße", "Marktplatz", "Am Sportplatz",
            "Wiesenweg",
        ],
        cities: &[
            "Teltow", "Kaub", "Kalkar", "Vöhrenbach", "Rehburg-Loccum", "Mindelheim", "Arneburg",
            "Hirschhorn (Neckar)", "Sankt Wendel", "Hadamar", "Zella-Mehlis", "Dassel", "Berlin",
            "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Leipzig",
            "Dortmund", "Dresden", "Hannover", "Nürnberg", "Bremen", "Bielefeld",
            "Freiburg im Breisgau", "Lübeck", "Rostock", "Kassel", "Magdeburg",
        ],
        states: &[
            "Baden-Württemberg", "Bayern", "Berlin", "Brandenburg", "Bremen", "Hamburg", "Hessen",
            "Mecklenburg-Vorpommern", "Niedersachsen", "Nordrhein-Westfalen", "Rheinland-Pfalz",
            "Saarland", "Sachsen", "Sachsen-Anhalt", "Schleswig-Holstein", "Thüringen",
        ],
    },
    // DK: Denmark
    Nationality {
        code: "DK",
        country: "Denmark",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "########",
        cell: "########",
        id_name: "CPR",
        id_value: Some("######-####"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Sander", "Kasper", "Villads", "Benjamin", "Albert", "Magnus", "Simon", "Sebastian",
            "Jacob", "Frederik", "Mikkel", "Rasmus", "Mads", "Emil", "Oliver", "Lucas", "William",
            "Noah", "Malthe", "Oscar", "Anton", "Tobias", "Victor", "Christian", "Jonas", "Alfred",
            "Carl",
        ],
        female_first: &[
            "Nanna", "Ida", "Freja", "Sofie", "Emma", "Laura", "Mathilde", "Caroline", "Julie",
            "Anna", "Clara", "Alma", "Astrid", "Cecilie", "Karoline", "Sara", "Amalie", "Maja",
            "Josefine", "Emilie", "Frida", "Signe", "Mille", "Line", "Naja", "Liva",
        ],
        last: &[
            "Jensen", "Andersen", "Sørensen", "Hansen", "Madsen", "Pedersen", "Christensen",
            "Thomsen", "Nielsen", "Larsen", "Rasmussen", "Jørgensen", "Petersen", "Kristensen",
            "Olsen", "Møller", "Poulsen", "Johansen", "Knudsen", "Mortensen", "Jakobsen", "Holm",
            "Schmidt", "Jacobsen", "Frederiksen", "Laursen", "Nissen", "Kjær", "Berg", "Mikkelsen",
            "Lund", "Andreasen", "Henriksen", "Dalgaard", "Clausen",
        ],
        streets: &[
            "Søtoften", "Orevej", "Lyngtoften", "Brogade", "Gudenåvej", "Kløvervej", "Engtoften",
            "Plantagevej", "H.C. Lumbyes Vej", "Dådyrvej", "Slåenvej", "Absalonsgade",
            "Vesterbrogade", "Nørregade", "Østergade", "Skovvej", "Møllevej", "Bøgevej", "Elmevej",
            "Granvej", "Rosenvej", "Kirkevej", "Strandvejen", "Søndergade", "Mejsevej",
        ],
        cities: &[
            "Ansager", "Vesterborg", "Sønder Stenderup", "København S", "Oure", "Stoevring",
            "Samsø", "Nørrebro", "Kongens  Lyngby", "Roslev", "Billum", "Aalborg S.Ø.", "Århus C",
            "Odense", "Aalborg", "Esbjerg", "Randers", "Kolding", "Horsens", "Vejle", "Roskilde",
            "Herning", "Silkeborg", "Næstved", "Fredericia", "Viborg", "Køge", "Holbæk", "Slagelse",
            "Ryslinge",
        ],
        states: &[
            "Hovedstaden", "Midtjylland", "Nordjylland", "Sjælland", "Syddanmark",
        ],
    },
    // ES: Spain
    Nationality {
        code: "ES",
        country: "Spain",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "9##-###-###",
        cell: "6##-###-###",
        id_name: "DNI",
        id_value: Some("########-A"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Marcos", "Carmelo", "Arturo", "Ruben", "Adolfo", "Alejandro", "Pablo", "Javier",
            "Sergio", "Manuel", "Francisco", "José", "Antonio", "Jesús", "Raúl", "Alberto", "Diego",
            "Héctor", "Enrique", "Ignacio", "Andrés", "Mario", "Gonzalo", "Ismael", "Luis",
        ],
        female_first: &[
            "Nerea", "Miriam", "Eva", "Sofia", "Margarita", "Pilar", "Lucía", "María", "Carmen",
            "Ana", "Laura", "Marta", "Elena", "Cristina", "Raquel", "Rosa", "Isabel", "Silvia",
            "Patricia", "Beatriz", "Alicia", "Nuria", "Inmaculada", "Montserrat", "Lorena",
            "Noelia", "Encarnación",
        ],
        last: &[
            "Hidalgo", "Sáez", "Medina", "Pastor", "Muñoz", "Ramirez", "Alonso", "Jimenez",
            "Gutierrez", "Gimenez", "Hernandez", "Aguilar", "García", "Fernández", "González",
            "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Díaz",
            "Moreno", "Álvarez", "Romero", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
            "Gil", "Serrano", "Blanco", "Molina", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio",
            "Marín", "Sanz", "Iglesias", "Nuñez", "Garrido", "Cortes", "Lozano", "Vega", "Cano",
            "Prieto", "Méndez", "Calvo", "Gallego", "Vidal", "León", "Herrera", "Márquez", "Peña",
            "Flores", "Cabrera", "Campos", "Fuentes", "Carrasco", "Diez", "Caballero", "Reyes",
            "Nieto",
        ],
        streets: &[
            "Calle de Téllez", "Calle de Tetuán", "Calle de Alcalá", "Calle de Segovia",
            "Calle Covadonga", "Avenida de América", "Calle del Arenal", "Calle del Prado",
            "Avenida del Planetario", "Calle de Atocha", "Paseo de Zorrilla",
            "Calle de La Almudena", "Calle de Bravo Murillo", "Calle de Toledo",
            "Calle de Argumosa", "Calle del Barquillo", "Calle de Ferraz", "Calle Mayor",
            "Avenida de Andalucía", "Avenida de Castilla", "Calle de Arturo Soria",
            "Ronda de Toledo", "Calle de la Luna", "Calle de Ángel García",
        ],
        cities: &[
            "Torrente", "Gandía", "Torrejón de Ardoz", "Arrecife", "Jerez de la Frontera",
            "Las Palmas de Gran Canaria", "Vitoria", "Ferrol", "Madrid", "Bilbao", "Fuenlabrada",
            "Barcelona", "Valencia", "Sevilla", "Zaragoza", "Málaga", "Murcia", "Palma de Mallorca",
            "Alicante", "Córdoba", "Valladolid", "Vigo", "Gijón", "Granada", "Elche", "Oviedo",
            "Badalona", "Cartagena", "Santander", "Almería", "Burgos", "Salamanca", "Albacete",
            "Logroño", "Pamplona",
        ],
        states: &[
            "Andalucía", "Aragón", "Asturias", "Islas Baleares", "Canarias", "Cantabria",
            "Castilla y León", "Castilla la Mancha", "Cataluña", "Comunidad Valenciana",
            "Extremadura", "Galicia", "La Rioja", "Comunidad de Madrid", "Región de Murcia",
            "Navarra", "País Vasco", "Ceuta", "Melilla",
        ],
    },
    // FI: Finland
    Nationality {
        code: "FI",
        country: "Finland",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "0#-###-###",
        cell: "04#-###-##-##",
        id_name: "HETU",
        id_value: Some("NaNN\\A###undefined"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Vilho", "Otto", "Aatu", "Joel", "Aleksi", "Elias", "Nooa", "Samuel", "Eetu", "Onni",
            "Leevi", "Eino", "Väinö", "Juho", "Lauri", "Veeti", "Niklas", "Jesse", "Miro", "Oskari",
            "Valtteri", "Rasmus", "Topias", "Santeri", "Veikko", "Arttu", "Kalle", "Mikael",
        ],
        female_first: &[
            "Neea", "Venla", "Sanni", "Oona", "Emma", "Minea", "Aino", "Eevi", "Aada", "Ella",
            "Iida", "Siiri", "Lilja", "Helmi", "Pihla", "Sara", "Veera", "Elli", "Enni", "Nelli",
            "Kerttu", "Jenna", "Aurora", "Seela", "Peppi", "Milla",
        ],
        last: &[
            "Ylitalo", "Manni", "Tikkanen", "Leino", "Raisanen", "Joki", "Remes", "Luoma", "Pulli",
            "Wirkkala", "Lehtola", "Kivisto", "Elo", "Eskola", "Rinne", "Salmi", "Korhonen",
            "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
            "Koskinen", "Järvinen", "Lehtonen", "Lehtinen", "Saarinen", "Salminen", "Heinonen",
            "Niemi", "Heikkilä", "Kinnunen", "Salonen", "Turunen", "Salo", "Laitinen", "Tuominen",
            "Rantanen", "Karjalainen", "Jokinen",
        ],
        streets: &[
            "Suvantokatu", "Bulevardi", "Myllypuronkatu", "Tehtaankatu", "Aleksanterinkatu",
            "Pispalan Valtatie", "Hermiankatu", "Itsenäisyydenkatu", "Mannerheimintie",
            "Mechelininkatu", "Tahmelantie", "Hämeentie", "Pyynikintie", "Otavalankatu",
            "Verkatehtaankatu", "Esplanadi", "Hämeenkatu", "Nordenskiöldinkatu", "Visiokatu",
            "Satakennankatu", "Siilitie", "Korkeavuorenkatu", "Rautatienkatu", "Mäkelänkatu",
            "Hatanpään Valtatie",
        ],
        cities: &[
            "Nivala", "Haapajärvi", "Kuhmoinen", "Tarvasjoki", "Marttila", "Nokia", "Ylivieska",
            "Keitele", "Hämeenkoski", "Nummi", "Teuva", "Lumparland", "Sievi", "Oripää", "Iitti",
            "Punkaharju", "Helsinki", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Jyväskylä",
            "Lahti", "Kuopio", "Pori", "Kouvola", "Joensuu", "Lappeenranta", "Hämeenlinna", "Vaasa",
            "Seinäjoki", "Rovaniemi", "Mikkeli", "Kotka", "Salo", "Porvoo", "Kokkola", "Hyvinkää",
        ],
        states: &[
            "Central Finland", "Central Ostrobothnia", "Finland Proper", "Kainuu", "Kymenlaakso",
            "Lapland", "North Karelia", "Northern Ostrobothnia", "Northern Savonia", "Ostrobothnia",
            "Pirkanmaa", "Päijät-Häme", "Satakunta", "South Karelia", "Southern Ostrobothnia",
            "Southern Savonia", "Tavastia Proper", "Uusimaa", "Åland",
        ],
    },
    // FR: France
    Nationality {
        code: "FR",
        country: "France",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "0#-##-##-##-##",
        cell: "06-##-##-##-##",
        id_name: "INSEE",
        id_value: Some("############# ##"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Dylan", "Baptiste", "Robin", "Morgan", "Axel", "Lucas", "Hugo", "Théo", "Nathan",
            "Enzo", "Louis", "Arthur", "Mathis", "Maxime", "Clément", "Thomas", "Antoine",
            "Alexandre", "Quentin", "Julien", "Romain", "Noah", "Gabriel", "Raphaël", "Valentin",
            "Kylian", "Mathéo", "Jules",
        ],
        female_first: &[
            "Lison", "Noélie", "Kiara", "Loane", "Emmy", "Eva", "Léa", "Manon", "Chloé", "Camille",
            "Inès", "Jade", "Louise", "Zoé", "Lola", "Juliette", "Clara", "Maëlys", "Lucie",
            "Romane", "Anaïs", "Margaux", "Océane", "Pauline", "Mathilde", "Élise", "Justine",
        ],
        last: &[
            "Brunet", "Legrand", "David", "Gautier", "Masson", "Fournier", "Riviere", "Petit",
            "Renaud", "Fernandez", "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard",
            "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia",
            "Bertrand", "Roux", "Vincent", "Fontaine", "Rousseau", "Blanc", "Guerin", "Muller",
            "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clement", "Gauthier",
            "Dumont", "Lopez", "Mercier", "Dupont", "Lambert", "Bonnet", "Francois", "Martinez",
        ],
        streets: &[
            "Rue Chazière", "Quai Chauveau", "Rue Abel", "Rue Bataille", "Rue du Stade",
            "Rue André-Gide", "Rue des Jardins", "Rue Pasteur", "Rue de L'Abbé-Rousselot",
            "Avenue Joliot Curie", "Rue de la Mairie", "Rue de la République", "Place de la Mairie",
            "Rue Duguesclin", "Rue des Cuirassiers", "Rue Dumenge", "Rue de la Charité",
            "Rue du Bât-d'Argent", "Avenue du Château", "Rue Paul-Duvivier", "Rue Saint-Georges",
            "Place des 44 Enfants d'Izieu", "Cours Charlemagne", "Montée Saint-Barthélémy",
            "Rue Victor-Hugo", "Rue de L'Église", "Rue Principale", "Rue Gasparin",
            "Boulevard de Balmont",
        ],
        cities: &[
            "Tours", "Rennes", "Argenteuil", "Marseille", "Boulogne-Billancourt", "Aubervilliers",
            "Orléans", "Paris", "Lyon", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier",
            "Bordeaux", "Lille", "Reims", "Le Havre", "Saint-Étienne", "Toulon", "Grenoble",
            "Dijon", "Angers", "Nîmes", "Villeurbanne", "Clermont-Ferrand", "Le Mans",
            "Aix-en-Provence", "Brest", "Limoges", "Amiens", "Perpignan", "Metz", "Besançon",
            "Rouen", "Mulhouse", "Caen", "Nancy", "Poitiers", "Avignon", "Versailles", "Nanterre",
            "Créteil", "Pau", "Roubaix", "Tourcoing", "Colombes", "Vitry-sur-Seine",
        ],
        states: &[
            "Haute-Marne", "Mayenne", "Meurthe-et-Moselle", "Charente", "Alpes-de-Haute-Provence",
            "Yonne", "Côte-D'Or", "Dordogne", "Paris", "Corrèze", "Ain", "Aisne", "Allier",
            "Hautes-Alpes", "Alpes-Maritimes", "Ardèche", "Ardennes", "Ariège", "Aube", "Aude",
            "Aveyron", "Bouches-du-Rhône", "Calvados", "Cantal", "Charente-Maritime", "Cher",
            "Creuse", "Doubs", "Drôme", "Eure", "Finistère", "Gard", "Haute-Garonne", "Gers",
            "Gironde", "Hérault", "Isère", "Landes", "Loire", "Loiret", "Manche", "Marne",
            "Moselle", "Nord", "Oise", "Orne", "Pas-de-Calais", "Puy-de-Dôme", "Bas-Rhin",
            "Haut-Rhin", "Rhône", "Saône-et-Loire", "Sarthe", "Savoie", "Haute-Savoie",
            "Seine-Maritime", "Somme", "Tarn", "Var", "Vaucluse", "Vendée", "Vienne", "Vosges",
            "Essonne", "Val-d'Oise",
        ],
    },
    // GB: United Kingdom
    Nationality {
        code: "GB",
        country: "United Kingdom",
        postcode: Postcode::Text("A# #AA"),
        phone: "01#### #####",
        cell: "07### ######",
        id_name: "NINO",
        id_value: Some("AA ## ## ## A"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Carter", "Daryl", "Noah", "Shawn", "Tyrone", "Ricardo", "Milton", "Derek", "Gene",
            "Luke", "Wesley", "Jack", "Harry", "Oliver", "George", "Charlie", "Thomas", "James",
            "Alfie", "Joshua", "William", "Edward", "Rhys", "Callum", "Dylan", "Samuel", "Ross",
            "Owen",
        ],
        female_first: &[
            "Megan", "Lauren", "Stephanie", "Catherine", "Erin", "Sarah", "Amelia", "Olivia",
            "Emily", "Isla", "Poppy", "Jessica", "Ellie", "Sophie", "Grace", "Lily", "Chloe",
            "Charlotte", "Holly", "Abigail", "Freya", "Eleanor", "Molly", "Evie", "Lucy", "Hannah",
            "Jasmine", "Bethany",
        ],
        last: &[
            "Silva", "Allen", "Anderson", "Douglas", "Gonzales", "Curtis", "Cole", "Lee", "Miller",
            "Snyder", "Russell", "Patterson", "Matthews", "May", "Carter", "Sullivan", "Miles",
            "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
            "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
            "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
            "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore",
        ],
        streets: &[
            "Manchester Road", "Rectory Lane", "New Road", "Station Road", "Brick Kiln Road",
            "Queensway", "Manor Road", "Windsor Road", "Kingsway", "George Street",
            "Alexander Road", "King Street", "Stanley Road", "York Road", "The Grove", "Grove Road",
            "High Street", "Church Street", "Mill Lane", "Victoria Road", "Green Lane", "Park Road",
            "London Road", "Church Lane", "Main Street", "Chester Road", "North Road",
            "South Street", "School Lane", "The Avenue", "Springfield Road", "Albert Road",
            "Richmond Road",
        ],
        cities: &[
            "St Albans", "Belfast", "Ripon", "Westminster", "Newry", "Bristol", "Canterbury",
            "Stevenage", "Worcester", "Armagh", "Exeter", "Truro", "Leicester", "London",
            "Birmingham", "Manchester", "Liverpool", "Leeds", "Sheffield", "Glasgow", "Edinburgh",
            "Cardiff", "Newport", "Swansea", "Aberdeen", "Dundee", "Inverness", "Bath", "Cambridge",
            "Oxford", "York", "Durham", "Chester", "Lancaster", "Peterborough", "Salisbury",
            "Wells", "Lichfield", "Derby", "Nottingham", "Coventry", "Plymouth", "Southampton",
            "Portsmouth", "Brighton and Hove", "Sunderland", "Wakefield", "Lisburn", "Londonderry",
            "Perth", "Stirling", "Bangor", "St Davids",
        ],
        states: &[
            "Cornwall", "Cambridgeshire", "Northamptonshire", "South Yorkshire", "Tyne and Wear",
            "Staffordshire", "Gwent", "Buckinghamshire", "Avon", "Greater Manchester",
            "Strathclyde", "Tayside", "Highlands and Islands", "Lothian", "Kent", "Bedfordshire",
            "Berkshire", "Cheshire", "Cumbria", "Derbyshire", "Devon", "Dorset", "Durham", "Essex",
            "Gloucestershire", "Hampshire", "Hertfordshire", "Lancashire", "Leicestershire",
            "Lincolnshire", "Merseyside", "Norfolk", "North Yorkshire", "Nottinghamshire",
            "Oxfordshire", "Somerset", "Suffolk", "Surrey", "West Sussex", "East Sussex",
            "West Midlands", "West Yorkshire", "Wiltshire", "Dyfed", "Powys", "Grampian", "Fife",
            "Central", "Borders", "Clwyd", "Gwynedd", "Mid Glamorgan", "South Glamorgan",
            "West Glamorgan", "Dumfries and Galloway", "County Down", "County Antrim",
            "County Armagh", "County Fermanagh", "County Londonderry", "County Tyrone",
            "Herefordshire", "Worcestershire", "Rutland", "Shropshire", "Warwickshire",
            "Isle of Wight",
        ],
    },
    // IE: Ireland
    Nationality {
        code: "IE",
        country: "Ireland",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "0#1-###-####",
        cell: "081-###-####",
        id_name: "PPS",
        id_value: Some("#######T"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Russell", "Paul", "Gilbert", "Larry", "Leo", "Patrick", "Hector", "Byron", "Sean",
            "Conor", "Cian", "Darragh", "Oisin", "Liam", "Jack", "James", "Michael", "John",
            "Aidan", "Eoin", "Ciaran", "Ronan", "Fionn", "Colm", "Declan", "Kevin", "Brendan",
            "Niall", "Dermot", "Cathal",
        ],
        female_first: &[
            "Sophie", "Caitlin", "Megan", "Rebecca", "Julie", "Emma", "Tammy", "Aoife", "Ciara",
            "Niamh", "Saoirse", "Sinead", "Orla", "Roisin", "Grainne", "Siobhan", "Emily", "Katie",
            "Sarah", "Amy", "Chloe", "Ella", "Clodagh", "Eimear", "Aisling", "Mary", "Deirdre",
            "Fiona", "Maeve",
        ],
        last: &[
            "Caldwell", "Bates", "Russell", "Griffin", "Dunne", "Ford", "Sanders", "Richards",
            "Gray", "Hawkins", "Ross", "Patterson", "Hayes", "Graham", "Murphy", "Kelly", "Walsh",
            "Smith", "Byrne", "Ryan", "Sullivan", "McCarthy", "Doyle", "Lynch", "Murray", "Quinn",
            "Moore", "McLoughlin", "Carroll", "Connolly", "Daly", "Kennedy", "Gallagher", "Doherty",
            "Kavanagh", "Nolan", "Fitzgerald", "Brennan", "Burke", "Collins", "Campbell", "Clarke",
            "Johnston", "Hughes", "Farrell", "Reilly", "Power", "Keane", "Moran", "Barrett",
        ],
        streets: &[
            "George Street", "Strand Road", "Park Road", "Park Avenue", "Rookery Road",
            "North Street", "Park Lane", "O'Connell Avenue", "West Street", "School Lane",
            "The Drive", "Richmond Park", "Alexander Road", "The Grove", "The Green", "Main Street",
            "Church Road", "Mill Road", "Castle Road", "Grafton Street", "Patrick Street",
            "Shop Street", "Church Street", "Bridge Street", "New Street", "The Crescent",
            "Dame Street", "Sandyford Road", "St. John's Road", "Boghall Road",
        ],
        cities: &[
            "Newbridge", "Limerick", "Mullingar", "Newcastle West", "Listowel", "Athenry", "Bray",
            "Westport", "Swords", "Longford", "Lusk", "Bandon", "Greystones", "Dublin", "Cork",
            "Galway", "Waterford", "Drogheda", "Dundalk", "Navan", "Kilkenny", "Ennis", "Carlow",
            "Tralee", "Naas", "Athlone", "Portlaoise", "Sligo", "Balbriggan", "Wexford",
            "Killarney", "Tullamore", "Clonmel", "Castlebar", "Letterkenny", "Arklow", "Ballina",
            "Kinsale", "Skerries", "Malahide", "Cobh",
        ],
        states: &[
            "Carlow", "Cavan", "Clare", "Cork", "Donegal", "Dublin", "Fingal", "Galway", "Kerry",
            "Kildare", "Kilkenny", "Laois", "Leitrim", "Limerick", "Longford", "Louth", "Mayo",
            "Meath", "Monaghan", "Offaly", "Roscommon", "Sligo", "South Dublin", "Tipperary",
            "Waterford", "Westmeath", "Wexford", "Wicklow",
        ],
    },
    // IN: India
    Nationality {
        code: "IN",
        country: "India",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "9#########",
        cell: "9#########",
        id_name: "UIDAI",
        id_value: Some("############"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Kahaan", "Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Ayaan",
            "Krishna", "Ishaan", "Shaurya", "Atharv", "Advik", "Pranav", "Rohan", "Rahul", "Vikram",
            "Amit", "Suresh", "Ramesh", "Karthik", "Manish", "Nikhil", "Siddharth", "Harsh", "Yash",
            "Dhruv", "Kabir", "Anirudh",
        ],
        female_first: &[
            "Aadhya", "Ananya", "Diya", "Saanvi", "Pari", "Anika", "Navya", "Myra", "Aarohi", "Ira",
            "Kavya", "Priya", "Pooja", "Neha", "Sneha", "Divya", "Riya", "Shreya", "Meera", "Isha",
            "Tanvi", "Nisha", "Lakshmi", "Deepika", "Anjali", "Kriti", "Sanjana", "Aditi",
            "Vaishnavi", "Shruti",
        ],
        last: &[
            "Shetty", "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Reddy", "Nair",
            "Iyer", "Menon", "Rao", "Joshi", "Kulkarni", "Desai", "Mehta", "Shah", "Chopra",
            "Kapoor", "Malhotra", "Bhat", "Pillai", "Das", "Banerjee", "Chatterjee", "Mukherjee",
            "Bose", "Ghosh", "Saxena", "Agarwal", "Mishra", "Pandey", "Yadav", "Naidu", "Jain",
            "Thakur", "Dutta", "Sinha", "Kaur", "Gill",
        ],
        streets: &[
            "Racecource Rd", "Altamount Rd", "Ashoka Rd", "Bandstand Promenade", "Bannerghatta Rd",
            "Bhavani Peth", "Camac St", "Carter Rd Promenade", "Colaba Causeway", "College St",
            "Commercial St", "Dadabhai Naoroji Rd", "Hazratganj", "Janpath", "Kasturba Rd",
            "Lamington Rd", "Linking Rd", "Mall Rd", "Marine Drive", "Mint St", "Mirza Ghalib St",
            "Old Jail Rd", "Pali Hill", "Rajpath", "Shivajinagar", "Tilak Marg", "Tank Bund Rd",
            "Shanmugham Rd",
        ],
        cities: &[
            "Narasaraopet", "Mumbai", "Delhi", "Bengaluru", "Hyderabad", "Ahmedabad", "Chennai",
            "Kolkata", "Surat", "Pune", "Jaipur", "Lucknow", "Kanpur", "Nagpur", "Indore", "Thane",
            "Bhopal", "Visakhapatnam", "Patna", "Vadodara", "Ghaziabad", "Ludhiana", "Agra",
            "Nashik", "Faridabad", "Meerut", "Rajkot", "Varanasi", "Srinagar", "Amritsar", "Guntur",
            "Vijayawada", "Mysore", "Kochi", "Coimbatore", "Madurai", "Tirupati",
        ],
        states: &[
            "Andaman and Nicobar Islands", "Andhra Pradesh", "Arunachal Pradesh", "Assam", "Bihar",
            "Chandigarh", "Chhattisgarh", "Dadra and Nagar Haveli", "Daman and Diu", "Delhi", "Goa",
            "Gujarat", "Haryana", "Himachal Pradesh", "Jammu and Kashmir", "Jharkhand", "Karnataka",
            "Kerala", "Lakshadweep", "Madhya Pradesh", "Maharashtra", "Manipur", "Meghalaya",
            "Mizoram", "Nagaland", "Odisha", "Puducherry", "Punjab", "Rajasthan", "Sikkim",
            "Tamil Nadu", "Telangana", "Tripura", "Uttar Pradesh", "Uttarakhand", "West Bengal",
        ],
    },
    // IR: Iran
    Nationality {
        code: "IR",
        country: "Iran",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "0##-########",
        cell: "09##-###-####",
        id_name: "",
        id_value: None,
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "دانیال|dnyl", "آرمین|armyn", "علیرضا|aalyrd", "امیر|myr", "سینا|syn", "ایلیا|yly",
            "مهدی|mhdy", "محمد|mhmd", "علی|aaly", "حسین|hsyn", "رضا|rd", "امیرحسین|myrhsyn",
            "امیرمحمد|myrmhmd", "محمدرضا|mhmdrd", "پارسا|prs", "آریا|ary", "کیان|khyn", "سپهر|sphr",
            "نیما|nym", "بردیا|brdy", "حامد|hmd", "سعید|saayd", "مجید|mjyd", "پویا|pwy",
            "عرفان|aarfn", "کوروش|khwrwsh",
        ],
        female_first: &[
            "یسنا|ysn", "زهرا|zhr", "فاطمه|ftmh", "مریم|mrym", "نرگس|nrgs", "سارا|sr",
            "نازنین|nznyn", "هانیه|hnyh", "آیدا|ayd", "النا|ln", "رها|rh", "ستایش|stysh",
            "کیمیا|khymy", "ملیکا|mlykh", "مهسا|mhs", "نیلوفر|nylwfr", "پریا|pry", "ترانه|trnh",
            "شیدا|shyd", "هستی|hsty", "باران|brn", "آتنا|atn", "یگانه|ygnh", "پرنیان|prnyn",
            "مهتاب|mhtb",
        ],
        last: &[
            "کامروا|khmrw", "حسینی|hsyny", "صدر|sdr", "سلطانی نژاد|sltnynjd", "جعفری|jaafry",
            "مرادی|mrdy", "احمدی|hmdy", "حیدری|hydry", "رضاییان|rdyyn", "زارعی|zraay",
            "سالاری|slry", "علیزاده|aalyzdh", "قاسمی|qsmy", "محمدخان|mhmdkhn", "موسوی|mwswy",
            "نجاتی|njty", "پارسا|prs", "کریمی|khrymy", "کوتی|khwty", "گلشن|glshn", "یاسمی|ysmy",
            "محمدی|mhmdy", "کاظمی|khzmy", "رحیمی|rhymy", "نوری|nwry", "صادقی|sdqy", "هاشمی|hshmy",
            "اکبری|khbry", "عباسی|aabsy", "شریفی|shryfy", "ملکی|mlkhy", "سهیلی راد|shylyrd",
            "نکو نظر|nkhwnzr", "کامیاران|khmyrn",
        ],
        streets: &[
            "هویزه", "شهید کشواد", "پارک طالقانی", "آزادی", "برادران سلیمانی", "دستغیب", "نبرد",
            "15 خرداد", "17 شهریور", "آیت الله کاشانی", "استاد قریب", "امام خمینی", "امیرکبیر",
            "ایران", "جمهوری اسلامی", "خرمشهر", "دماوند", "دکتر علی شریعتی", "دکتر فاطمی",
            "ستارخان", "شهید بهشتی", "شهید مطهری", "فلسطین", "قدس", "میدان انقلاب", "میرداماد",
            "ولیعصر / مصدق", "پاسداران", "پیروزی", "کارگر شمالی",
        ],
        cities: &[
            "خوی", "بجنورد", "آبادان", "بیرجند", "آمل", "بابل", "سنندج", "کرمانشاه", "تهران",
            "مشهد", "اصفهان", "کرج", "شیراز", "تبریز", "قم", "اهواز", "رشت", "کرمان", "همدان",
            "یزد", "اردبیل", "بندرعباس", "اسلامشهر", "زنجان", "قزوین", "ساری", "گرگان", "ارومیه",
            "زاهدان", "دزفول",
        ],
        states: &[
            "آذربایجان شرقی", "آذربایجان غربی", "اردبیل", "اصفهان", "البرز", "ایلام", "بوشهر",
            "تهران", "خراسان جنوبی", "خراسان رضوی", "خراسان شمالی", "خوزستان", "زنجان", "سمنان",
            "سیستان و بلوچستان", "فارس", "قزوین", "قم", "لرستان", "مازندران", "مرکزی", "هرمزگان",
            "همدان", "چهارمحال و بختیاری", "کردستان", "کرمان", "کرمانشاه", "کهگیلویه و بویراحمد",
            "گلستان", "گیلان", "یزد",
        ],
    },
    // MX: Mexico
    Nationality {
        code: "MX",
        country: "Mexico",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "(6##) ### ####",
        cell: "(6##) ### ####",
        id_name: "NSS",
        id_value: Some("## ## ## #### #"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Pablo", "Gregorio", "Rolando", "José", "Juan", "Luis", "Carlos", "Jorge", "Miguel",
            "Alejandro", "Francisco", "Ricardo", "Fernando", "Roberto", "Eduardo", "Manuel",
            "Jesús", "Javier", "Raúl", "Armando", "Sergio", "Héctor", "Arturo", "Óscar", "Alfredo",
            "Gerardo", "Ramiro", "Emiliano", "Santiago",
        ],
        female_first: &[
            "Dolores", "Amalia", "Irma", "Guadalupe", "María", "Rosa", "Verónica", "Alejandra",
            "Gabriela", "Patricia", "Leticia", "Adriana", "Claudia", "Margarita", "Elena",
            "Beatriz", "Lorena", "Yolanda", "Silvia", "Mónica", "Araceli", "Ximena", "Fernanda",
            "Paola", "Daniela", "Itzel", "Rocío", "Sofía",
        ],
        last: &[
            "Rendón", "Figueroa", "Arguello", "Pulido", "Ocampo", "Rocha", "Hernández", "García",
            "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez", "Ramírez", "Cruz",
            "Flores", "Gómez", "Morales", "Vázquez", "Reyes", "Jiménez", "Torres", "Díaz",
            "Gutiérrez", "Ruiz", "Mendoza", "Aguilar", "Ortiz", "Moreno", "Castillo", "Romero",
            "Álvarez", "Méndez", "Chávez", "Rivera", "Juárez", "Ramos", "Domínguez", "Herrera",
            "Medina", "Castro", "Vargas", "Guzmán", "Velázquez", "Zamora", "Quintero", "Villarreal",
            "Olivares", "Bañuelos", "Tapia", "Sepúlveda", "Alonzo", "Espinosa", "Soto",
        ],
        streets: &[
            "Peatonal del Río", "Diagonal Sur Barrientos", "Callejón Sur Naranjo",
            "Diagonal Herrera", "Privada Italia", "Continuación Franco", "Avenida Rosales",
            "Calle Hidalgo", "Retorno Sur Ruiz", "Pasaje Norte Vallejo", "Corredor Ocampo",
            "Boulevard Juárez", "Circuito Morelos", "Cerrada Zaragoza", "Ampliación Sur Guerrero",
            "Prolongación Norte Madero", "Andador Ramírez", "Eje vial Medina",
            "Periférico Norte Sosa", "Calzada Castro", "Viaducto Téllez", "Avenida Norte Serrano",
            "Privada Sur Peña",
        ],
        cities: &[
            "Ejido Constitución", "Coacoatzintla", "Soledad de Graciano Sánchez",
            "San Patricio (Melaque)", "Tahmek", "Creel", "Guadalajara", "Monterrey", "Puebla",
            "Tijuana", "León", "Ciudad Juárez", "Zapopan", "Mérida", "San Luis Potosí",
            "Aguascalientes", "Hermosillo", "Saltillo", "Mexicali", "Culiacán",
            "Acapulco de Juárez", "Chihuahua", "Morelia", "Toluca de Lerdo", "Querétaro", "Cancún",
            "Tepic", "Oaxaca de Juárez", "Tuxtla Gutiérrez", "Xalapa", "Villahermosa", "Zacatecas",
            "Colima", "Campeche", "Pachuca de Soto", "Tlaxcala de Xicohténcatl",
        ],
        states: &[
            "Aguascalientes", "Baja California", "Baja California Sur", "Campeche", "Chiapas",
            "Chihuahua", "Ciudad de Mexico", "Coahuila", "Colima", "Durango", "Estado de Mexico",
            "Guanajuato", "Guerrero", "Hidalgo", "Jalisco", "Michoacan", "Morelos", "Nayarit",
            "Nuevo Leon", "Oaxaca", "Puebla", "Queretaro", "Quintana Roo", "San Luis Potosí",
            "Sinaloa", "Sonora", "Tabasco", "Tamaulipas", "Tlaxcala", "Veracruz", "Yucatan",
            "Zacatecas",
        ],
    },
    // NL: Netherlands
    Nationality {
        code: "NL",
        country: "Netherlands",
        postcode: Postcode::Text("#### AA"),
        phone: "(0###) ######",
        cell: "(06) ########",
        id_name: "BSN",
        id_value: Some("########"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Koenraad", "Naim", "Joy", "Filippus", "Thiago", "Matty", "Safa", "Stuart", "Alican",
            "Abid", "Daan", "Sem", "Lucas", "Levi", "Finn", "Milan", "Jesse", "Bram", "Thijs",
            "Ruben", "Lars", "Stijn", "Sven", "Jeroen", "Pieter", "Willem", "Gerrit", "Henk", "Bas",
            "Teun", "Joris", "Wouter",
        ],
        female_first: &[
            "Josja", "My", "Alia", "Sijke", "Nalinie", "Emma", "Julia", "Sophie", "Tess", "Zoë",
            "Anna", "Fenna", "Sanne", "Lotte", "Femke", "Anouk", "Iris", "Maud", "Noor", "Saar",
            "Evi", "Lieke", "Roos", "Marieke", "Ilse", "Ingrid", "Esmee", "Floor", "Jet",
            "Marjolein",
        ],
        last: &[
            "Hoedjes", "Held", "Ooteman", "Schook", "Van Andel", "Niewold", "Boom", "Braam",
            "Bulut", "Wiegersma", "Van de Giessen", "Moerdijk", "Neggers", "Hoppenbrouwers",
            "Van Ast", "De Jong", "Jansen", "De Vries", "Van den Berg", "Van Dijk", "Bakker",
            "Janssen", "Visser", "Smit", "Meijer", "De Boer", "Mulder", "De Groot", "Bos", "Vos",
            "Peters", "Hendriks", "Van Leeuwen", "Dekker", "Brouwer", "De Wit", "Dijkstra", "Smits",
            "De Graaf", "Van der Meer", "Kok", "Jacobs", "Van der Linden", "Verhoeven", "Van Beek",
        ],
        streets: &[
            "Bontekoestraat", "Caddenbosch", "Henk Lensenlaan", "Johannes Uitenbogaertstraat",
            "Annelien Kappeyne van de Coppellostraat", "Dr. Banningstraat", "Willem van Noortplein",
            "Vredenburg", "Donkerstraat", "Wijde Begijnestraat", "Amsterdamse-Straatweg",
            "Westerkade", "Massegast", "Stadionlaan", "Herenstraat", "Kerkstraat", "Dorpsstraat",
            "Molenweg", "Schoolstraat", "Nieuwstraat", "Julianastraat", "Beatrixlaan",
            "Prinses Irenestraat", "Wilhelminastraat", "Oudegracht", "Spoorlaan", "Stationsweg",
            "Oranjelaan",
        ],
        cities: &[
            "Matsloot", "Netersel", "Midwolda", "Kilder", "Munnekemoer", "Zwaag", "Stadskanaal",
            "Haarlemmermeer", "Rijnwaarden", "Vlagtwedde", "Uitgeest", "Pijnacker-Nootdorp",
            "Midden-Delfland", "Leusden", "Zuidplas", "Amsterdam", "Rotterdam", "Den Haag",
            "Utrecht", "Eindhoven", "Groningen", "Tilburg", "Almere", "Breda", "Nijmegen",
            "Apeldoorn", "Haarlem", "Arnhem", "Enschede", "Amersfoort", "Zwolle", "Leiden",
            "Maastricht", "Dordrecht", "Zoetermeer", "Delft", "Deventer", "Alkmaar", "Venlo",
            "Hilversum",
        ],
        states: &[
            "Drenthe", "Flevoland", "Friesland", "Gelderland", "Groningen", "Limburg",
            "Noord-Brabant", "Noord-Holland", "Overijssel", "Utrecht", "Zeeland", "Zuid-Holland",
        ],
    },
    // NO: Norway
    Nationality {
        code: "NO",
        country: "Norway",
        postcode: Postcode::Text("####"),
        phone: "########",
        cell: "4#######",
        id_name: "FN",
        id_value: Some("###########"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Ibrahim", "Michal", "Lias", "Tom", "Ian", "Jakob", "Emil", "Noah", "Oliver", "Filip",
            "William", "Lucas", "Henrik", "Aksel", "Magnus", "Sander", "Theodor", "Kristian",
            "Olav", "Håkon", "Sindre", "Eirik", "Øystein", "Torbjørn", "Bjørn", "Jørgen", "Mathias",
            "Even", "Sigurd", "Ole",
        ],
        female_first: &[
            "Iben", "Weronika", "Emily", "Lia", "Marion", "Oda", "Sham", "Malin", "Nora", "Emma",
            "Ella", "Maja", "Sofie", "Ingrid", "Sara", "Thea", "Leah", "Amalie", "Hedda", "Ida",
            "Frida", "Tiril", "Mathilde", "Sigrid", "Kaja", "Silje", "Ragnhild", "Åse", "Solveig",
            "Synnøve", "Marthe",
        ],
        last: &[
            "Drageset", "Voll", "Lofthus", "Sundstrøm", "Abdullahi", "Nilssen", "Leiknes",
            "Fagervik", "Berstad", "Zhang", "Heyerdahl", "Buvik", "Hansen", "Johansen", "Olsen",
            "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Karlsen",
            "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Johannessen",
            "Andreassen", "Jacobsen", "Dahl", "Jørgensen", "Halvorsen", "Henriksen", "Lund",
            "Sørensen", "Jakobsen", "Moen", "Gundersen", "Strand", "Solberg", "Bakken",
            "Kristoffersen", "Myhre", "Brekke", "Aasen", "Holm", "Lie", "Sæther", "Tveit",
            "Rønning", "Kvam", "Ødegård",
        ],
        streets: &[
            "Professor Lochmanns gate", "Alunsjøveien", "Hollendergata", "Krokstien", "Hockeyveien",
            "Spireaveien", "Sigurd Syrs gate", "Akebakkeskogen", "Olleveien", "Ravnkroken",
            "Pionerstien", "Per Gynts vei", "Harbitzalléen", "Storgata", "Kirkegata",
            "Kongens gate", "Dronningens gate", "Markveien", "Tollbugata", "Thorvald Meyers gate",
            "Bygdøy allé", "Trondheimsveien", "Ringveien", "Skogveien", "Solbakken",
            "Gamle Drammensvei", "Bekkelagsveien", "Haugerudveien",
        ],
        cities: &[
            "Innbygda", "Nordkjosbotn", "Kil", "Vestre Jakobselv", "Hellerud", "Nesbyen",
            "Sneltvedt", "Norderhaug", "Bangsund", "Toft", "Storsteinnes", "Verningen", "Gladstad",
            "Oslo", "Bergen", "Trondheim", "Stavanger", "Drammen", "Fredrikstad", "Kristiansand",
            "Sandnes", "Tromsø", "Sarpsborg", "Skien", "Ålesund", "Sandefjord", "Haugesund",
            "Tønsberg", "Moss", "Porsgrunn", "Bodø", "Arendal", "Hamar", "Larvik", "Halden",
            "Lillehammer", "Molde", "Harstad", "Gjøvik", "Kongsberg",
        ],
        states: &[
            "Akershus", "Aust-Agder", "Bergen", "Buskerud", "Finnmark - Finnmárku", "Hedmark",
            "Hordaland", "Møre og Romsdal", "Nord-Trøndelag", "Nordland", "Oppland", "Oslo",
            "Rogaland", "Sogn og Fjordane", "Sør-Trøndelag", "Telemark", "Troms - Romsa",
            "Trøndelag", "Vest-Agder", "Vestfold", "Østfold",
        ],
    },
    // NZ: New Zealand
    Nationality {
        code: "NZ",
        country: "New Zealand",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "(###)-###-####",
        cell: "(###)-###-####",
        id_name: "",
        id_value: None,
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Archer", "Blake", "Roman", "Flynn", "Theodore", "Samuel", "Oliver", "Jack", "William",
            "James", "Noah", "Leo", "Lucas", "Hunter", "Mason", "Hudson", "Jacob", "Liam",
            "Charlie", "Thomas", "Max", "Benjamin", "George", "Ethan", "Cooper", "Logan", "Riley",
            "Caleb", "Finn", "Tyler",
        ],
        female_first: &[
            "Ivy", "Kayla", "Kate", "Rose", "Keira", "Harper", "Charlotte", "Olivia", "Isla",
            "Amelia", "Ella", "Mia", "Sophie", "Emily", "Ruby", "Zoe", "Grace", "Lily", "Isabella",
            "Hannah", "Madison", "Chloe", "Ava", "Lucy", "Brooke", "Zara", "Sienna", "Jessica",
            "Abigail", "Georgia",
        ],
        last: &[
            "Hall", "Wright", "Lee", "Roberts", "Jackson", "Li", "Patel", "Harris", "Jones",
            "Hughes", "Moore", "Thomas", "Smith", "Williams", "Brown", "Wilson", "Taylor",
            "Anderson", "Martin", "Walker", "Robinson", "Thompson", "White", "Clark", "Young",
            "King", "Scott", "Campbell", "Mitchell", "Turner", "Green", "Baker", "Davies", "Wang",
            "Chen", "Singh", "Kumar", "Watson", "Ross", "Morris", "Johnston", "Miller", "Edwards",
            "Evans",
        ],
        streets: &[
            "Domain Road", "Port Hills Road", "Collingwood Street", "Kahikatea Drive",
            "Fraser Street", "Manukau Road", "Mt Wellington Highway", "Great King Street",
            "Target Road", "Prince Albert Road", "Hoon Hay Road", "Portsmouth Drive",
            "Russell Street", "Queen Street", "Karangahape Road", "Cuba Street", "Lambton Quay",
            "Riccarton Road", "Colombo Street", "Victoria Street", "Dominion Road", "Ponsonby Road",
            "Cashel Street", "Tay Street", "Ferry Road", "Lincoln Road", "Cameron Road",
            "Devonport Road", "Ellerslie-Panmure Highway", "Moorhouse Avenue", "Wairau Road",
        ],
        cities: &[
            "Rotorua", "Christchurch", "Gisborne", "Greymouth", "Nelson", "Timaru", "Blenheim",
            "Whanganui", "Upper Hutt", "Auckland", "Wellington", "Hamilton", "Tauranga", "Dunedin",
            "Palmerston North", "Napier", "Porirua", "Hastings", "New Plymouth", "Invercargill",
            "Whangarei", "Lower Hutt", "Masterton", "Levin", "Taupo", "Ashburton", "Queenstown",
            "Oamaru", "Hokitika", "Pukekohe",
        ],
        states: &[
            "Auckland", "Bay of Plenty", "Canterbury", "Gisborne", "Hawke's Bay",
            "Manawatu-Wanganui", "Marlborough", "Nelson", "Northland", "Otago", "Southland",
            "Taranaki", "Tasman", "Waikato", "Wellington", "West Coast",
        ],
    },
    // RS: Serbia
    Nationality {
        code: "RS",
        country: "Serbia",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "0##-####-###",
        cell: "06#-####-###",
        id_name: "SID",
        id_value: Some("#########"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Ljubiša", "Velibor", "Nikola", "Luka", "Stefan", "Lazar", "Marko", "Miloš", "Aleksa",
            "Nemanja", "Dušan", "Vuk", "Đorđe", "Filip", "Uroš", "Milan", "Dragan", "Zoran",
            "Goran", "Dejan", "Bojan", "Saša", "Slobodan", "Vladimir", "Radovan", "Branislav",
            "Miroslav", "Živko", "Predrag", "Srđan",
        ],
        female_first: &[
            "Andrea", "Iva", "Ljuba", "Lada", "Milica", "Jelena", "Ana", "Marija", "Jovana",
            "Katarina", "Teodora", "Sara", "Anđela", "Dragana", "Snežana", "Gordana", "Ivana",
            "Tijana", "Nevena", "Vesna", "Svetlana", "Mirjana", "Biljana", "Zorica", "Radmila",
            "Olivera", "Danica", "Nataša", "Dušica", "Ljiljana",
        ],
        last: &[
            "Kojić", "Katanić", "Dokić", "Rašić", "Stevanović", "Santrač", "Jovanović", "Petrović",
            "Nikolić", "Marković", "Đorđević", "Stojanović", "Ilić", "Pavlović", "Milošević",
            "Stanković", "Lazić", "Kovačević", "Popović", "Živković", "Tomić", "Janković",
            "Todorović", "Mitić", "Ristić", "Savić", "Vasić", "Milovanović", "Radovanović", "Simić",
            "Obradović", "Lukić", "Kostić", "Vuković", "Perić", "Bogdanović", "Đukić", "Mladenović",
            "Spasić", "Šarić",
        ],
        streets: &[
            "Dvadesetdevetog Novembra", "Draginje Vlašić", "Vinogradarska", "Belasička",
            "Miloša Bajića ", "Trinaestog Oktobra", "Kneza Miloša", "Bulevar Oslobođenja",
            "Nemanjina", "Resavska", "Takovska", "Karađorđeva", "Njegoševa", "Cara Dušana",
            "Vojvode Stepe", "Kralja Petra", "Svetogorska", "Sarajevska", "Jug Bogdanova",
            "Obilićev Venac", "Terazije", "Gospodar Jevremova", "Dositejeva",
            "Bulevar Kralja Aleksandra", "Vojvode Mišića", "Nušićeva",
        ],
        cities: &[
            "Belgrade", "Kovačica", "Petrovac na Mlavi", "Sečanj", "Sjenica", "Zvečan", "Novi Sad",
            "Niš", "Kragujevac", "Subotica", "Zrenjanin", "Pančevo", "Čačak", "Kraljevo",
            "Novi Pazar", "Smederevo", "Leskovac", "Valjevo", "Kruševac", "Vranje", "Šabac",
            "Užice", "Sombor", "Požarevac", "Pirot", "Zaječar", "Kikinda", "Sremska Mitrovica",
            "Jagodina", "Vršac", "Bor", "Prokuplje", "Loznica", "Aranđelovac", "Ivanjica",
            "Knjaževac", "Ub", "Žabalj",
        ],
        states: &[
            "Bor", "Braničevo", "Central Banat", "Jablanica", "Kolubara", "Mačva", "Moravica",
            "Nišava", "North Bačka", "North Banat", "Pčinja", "Pirot", "Podunavlje", "Pomoravlje",
            "Rasina", "Raška", "South Bačka", "South Banat", "Srem", "Šumadija", "Toplica",
            "West Bačka", "Zaječar", "Zlatibor", "Belgrade",
        ],
    },
    // TR: Turkey
    Nationality {
        code: "TR",
        country: "Turkey",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "(###)-###-####",
        cell: "(###)-###-####",
        id_name: "",
        id_value: None,
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Barış", "Necati", "Coşkun", "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan",
            "İbrahim", "İsmail", "Osman", "Yusuf", "Murat", "Ömer", "Emre", "Burak", "Kerem",
            "Onur", "Serkan", "Tolga", "Volkan", "Umut", "Kaan", "Kemal", "Cemal", "Erol", "Tuncay",
            "Oğuz", "Çağatay",
        ],
        female_first: &[
            "Afşar", "Mestan", "Ömür", "Nurdan", "Ayşe", "Fatma", "Emine", "Hatice", "Zeynep",
            "Elif", "Merve", "Özlem", "Gül", "Şule", "Esra", "Derya", "Sevgi", "Yasemin", "Nazlı",
            "Ebru", "Selin", "Damla", "Büşra", "Gülsüm", "Melek", "Ceren", "Sibel", "Tülay",
            "Nesrin", "İpek", "Defne", "Ece",
        ],
        last: &[
            "Tazegül", "Kulaksızoğlu", "Kunter", "Korol", "Yazıcı", "Ağaoğlu", "Kıraç", "Pektemek",
            "Aykaç", "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk",
            "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt",
            "Özkan", "Şimşek", "Polat", "Özer", "Erdoğan", "Ekici", "Akbulut", "Sönmez", "Karaer",
            "Tekelioğlu", "Balcı", "Taşlı", "Eliçin", "Akaydın", "Poyrazoğlu", "Uluhan", "Sadıklar",
            "Tuğluk",
        ],
        streets: &[
            "Necatibey Cd", "Maçka Cd", "Istiklal Cd", "Şehitler Cd", "Atatürk Sk", "Vatan Cd",
            "Kushimoto Sk", "Bağdat Cd", "Fatih Sultan Mehmet Cd", "Doktorlar Cd",
            "Talak Göktepe Cd", "Kuşdili Cd", "Abanoz Sk", "Mevlana Cd", "Filistin Cd",
            "Anafartalar Cd", "Tunalı Hilmi Cd", "Fatih Cd", "Menderes Cd", "Cumhuriyet Cd",
            "Hürriyet Cd", "Mimar Sinan Cd", "Sarıyer Cd",
        ],
        cities: &[
            "Şırnak", "Kütahya", "Rize", "Bingöl", "Kayseri", "Ordu", "Afyonkarahisar", "Malatya",
            "İstanbul", "Ankara", "İzmir", "Bursa", "Antalya", "Konya", "Adana", "Şanlıurfa",
            "Gaziantep", "Kocaeli", "Mersin", "Diyarbakır", "Hatay", "Manisa", "Kahramanmaraş",
            "Samsun", "Balıkesir", "Denizli", "Sakarya", "Eskişehir", "Trabzon", "Erzurum", "Van",
            "Muğla", "Tekirdağ", "Aydın", "Yozgat", "Elazığ", "Sivas", "Tokat", "Çorum", "Edirne",
            "Bolu", "Uşak", "Düzce", "Karabük", "Nevşehir",
        ],
        states: &[
            "Adana", "Adıyaman", "Afyonkarahisar", "Ağrı", "Amasya", "Ankara", "Antalya", "Artvin",
            "Aydın", "Balıkesir", "Bilecik", "Bingöl", "Bitlis", "Bolu", "Burdur", "Bursa",
            "Çanakkale", "Çankırı", "Çorum", "Denizli", "Diyarbakır", "Edirne", "Elazığ",
            "Erzincan", "Erzurum", "Eskişehir", "Gaziantep", "Giresun", "Gümüşhane", "Hakkâri",
            "Hatay", "Isparta", "Mersin", "İstanbul", "İzmir", "Kars", "Kastamonu", "Kayseri",
            "Kırklareli", "Kırşehir", "Kocaeli", "Konya", "Kütahya", "Malatya", "Manisa",
            "Kahramanmaraş", "Mardin", "Muğla", "Muş", "Nevşehir", "Niğde", "Ordu", "Rize",
            "Sakarya", "Samsun", "Siirt", "Sinop", "Sivas", "Tekirdağ", "Tokat", "Trabzon",
            "Tunceli", "Şanlıurfa", "Uşak", "Van", "Yozgat", "Zonguldak", "Aksaray", "Bayburt",
            "Karaman", "Kırıkkale", "Batman", "Şırnak", "Bartın", "Ardahan", "Iğdır", "Yalova",
            "Karabük", "Kilis", "Osmaniye", "Düzce",
        ],
    },
    // UA: Ukraine
    Nationality {
        code: "UA",
        country: "Ukraine",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "(09#) A##-####",
        cell: "(09#) A##-####",
        id_name: "",
        id_value: None,
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Boris", "Peresvit", "Andriy", "Bogdan", "Vasil", "Volodimir", "Dmitro", "Ivan", "Igor",
            "Oleg", "Oleksandr", "Oleksiy", "Pavlo", "Petro", "Roman", "Taras", "Yuriy", "Mikola",
            "Mihaylo", "Stepan", "Yaroslav", "Svyatoslav", "Vitaliy", "Ostap", "Lev", "Orest",
            "Radomir", "Zhdan",
        ],
        female_first: &[
            "Olena", "Oksana", "Nataliya", "Tetyana", "Svitlana", "Katerina", "Mariya", "Irina",
            "Yuliya", "Galina", "Lyudmila", "Larisa", "Nadiya", "Lyubov", "Ganna", "Zoryana",
            "Ulyana", "Solomiya", "Yaroslava", "Bogdana", "Vira", "Hristina", "Darina", "Lesya",
            "Zlata", "Myroslava", "Snizhana",
        ],
        last: &[
            "Ribalchenko", "Grivko", "Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko",
            "Kravchenko", "Oliynik", "Shevchuk", "Polischuk", "Kovalchuk", "Boyko", "Tkachuk",
            "Marchenko", "Moroz", "Lisenko", "Rudenko", "Savchenko", "Petrenko", "Klimenko",
            "Pavlenko", "Savchuk", "Kuzmenko", "Ponomarenko", "Vasilenko", "Levchenko", "Harchenko",
            "Sidorenko", "Karpenko", "Yurchenko", "Melnik", "Koval", "Gnatyuk", "Zinchenko",
        ],
        streets: &[
            "Patriarha Mstislava Skripnika", "Provulok Dezhnieva", "Shevchenka",
            "Bulvar Tarasa Shevchenka", "Ploscha Svobodi", "Hreschatik", "Soborna", "Sadova",
            "Lesi Ukrayinki", "Ivana Franka", "Mihayla Grushevskogo", "Stepana Banderi",
            "Naberezhna", "Zelena", "Shkilna", "Tsentralna", "Molodizhna", "Peremogi", "Vokzalna",
            "Provulok Sadoviy", "Yaroslava Mudrogo", "Getmana Mazepi", "Vasilya Stusa",
            "Knyazya Volodimira",
        ],
        cities: &[
            "Rivne", "Noviy Kaliniv", "Kiyiv", "Lviv", "Odesa", "Harkiv", "Dnipro", "Zaporizhzhya",
            "Poltava", "Chernigiv", "Cherkasi", "Zhitomir", "Vinnitsya", "Ternopil", "Lutsk",
            "Uzhgorod", "Ivano-Frankivsk", "Sumi", "Hmelnitskiy", "Kropivnitskiy", "Mikolayiv",
            "Herson", "Chernivtsi", "Bila Tserkva", "Kremenchuk", "Kriviy Rig", "Mariupol",
            "Melitopol", "Berdichiv", "Kovel", "Drogobich",
        ],
        states: &[
            "Avtonomna Respublika Krim", "Vinnitska", "Volinska", "Dnipropetrovska", "Donetska",
            "Zhitomirska", "Zakarpatska", "Zaporizka", "Ivano-Frankivska", "Kiyivska",
            "Kirovogradska", "Luganska", "Lvivska", "Mikolayivska", "Odeska", "Poltavska",
            "Rivnenska", "Sumska", "Ternopilska", "Harkivska", "Hersonska", "Hmelnitska",
            "Cherkaska", "Chernivetska", "Chernigivska",
        ],
    },
    // US: United States
    Nationality {
        code: "US",
        country: "United States",
        postcode: Postcode::Int { min: 10000, max: 99999 },
        phone: "(###) ###-####",
        cell: "(###) ###-####",
        id_name: "SSN",
        id_value: Some("###-##-####"),
        male_titles: MR,
        female_titles: MISS_MRS_MS,
        male_first: &[
            "Christopher", "Alan", "Clinton", "Flenn", "Shane", "Ruben", "Milton", "James", "John",
            "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
            "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul", "Andrew", "Joshua", "Kenneth",
            "Kevin", "Brian", "Gary", "Timothy", "Jeffrey", "Ryan", "Jacob", "Eric", "Jesse",
            "Dwayne", "Herbert", "Vernon", "Lance",
        ],
        female_first: &[
            "Sonia", "Bessie", "Avery", "Theresa", "Tara", "Suzanne", "Mary", "Patricia",
            "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
            "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna",
            "Michelle", "Dorothy", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca",
            "Sharon", "Laura", "Cynthia", "Kathy", "Jenny", "Lucille", "Ella",
        ],
        last: &[
            "Freeman", "Scott", "Brooks", "Olson", "Craig", "Gordon", "Bates", "Carlson",
            "Robinson", "Bryant", "Hunter", "Watts", "Smith", "Johnson", "Williams", "Brown",
            "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
            "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
            "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
            "Walker", "Young", "Allen", "King", "Wright", "Hill", "Flores", "Green", "Adams",
            "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
            "Reyes", "Ward", "Howell", "Peters", "Lawson", "Fox", "Hawkins", "Stanley", "Rice",
            "Mills",
        ],
        streets: &[
            "Thornridge Cir", "Pecan Acres Ln", "Dane St", "College St", "Marsh Ln", "Preston Rd",
            "Forest Ln", "Spring Hill Rd", "Photinia Ave", "Locust Rd", "Mockingbird Ln",
            "Bollinger Rd", "Hunters Creek Dr", "Karen Dr", "E Center St", "Paddock Way",
            "Eason Rd", "Adams St", "Prospect Rd", "Green Rd", "W Pecan St", "Cherry St",
            "Washington Ave", "Lakeshore Rd", "Wheeler Ridge Dr", "Royal Ln", "Timber Wolf Trail",
            "Hickory Creek Dr", "Parker Rd", "W Belt Line Rd", "Valley View Ln", "Brown Terrace",
            "Samaritan Dr", "Ash Dr", "Fincher Rd", "Homestead Rd", "Daisy Dr", "Nowlin Rd",
            "Plum St", "Westheimer Rd", "Saddle Dr", "Lovers Ln", "Oak Lawn Ave", "Wycliff Ave",
            "Northaven Rd",
        ],
        cities: &[
            "Irvine", "Mesquite", "Altoona", "Warren", "Santa Clarita", "Toledo", "Austin",
            "Midland", "Provo", "Everett", "Pompano Beach", "Louisville", "Ennis", "New York",
            "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio",
            "San Diego", "Dallas", "San Jose", "Jacksonville", "Columbus", "Charlotte",
            "Indianapolis", "Seattle", "Denver", "Boston", "Nashville", "Portland", "Las Vegas",
            "Memphis", "Baltimore", "Milwaukee", "Albuquerque", "Tucson", "Fresno", "Sacramento",
            "Kansas City", "Omaha", "Raleigh", "Miami", "Tulsa", "Arlington", "Wichita",
            "Cleveland", "Tampa", "Orlando", "Honolulu", "Anchorage", "Lansing", "Fort Collins",
            "Rochester", "Syracuse", "Billings", "Fargo", "Sioux Falls", "Boise", "Spokane", "Reno",
            "Garland", "Plano", "Carrollton", "Lewisville", "Denton", "Round Rock", "Killeen",
            "Abilene", "Odessa", "Amarillo", "Waco", "Tyler", "Bakersfield", "Modesto", "Stockton",
            "Fontana", "Glendale", "Pasadena", "Escondido", "Sunnyvale", "Fullerton", "Orange",
            "Roseville", "Concord", "Berkeley", "Inglewood", "Temecula",
        ],
        states: &[
            "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
            "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa",
            "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan",
            "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
            "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina",
            "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island",
            "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia",
            "Washington", "West Virginia", "Wisconsin", "Wyoming",
        ],
    },
];

/// Looks a nationality up by its code, case-insensitively ("us" finds US).
pub fn by_code(code: &str) -> Option<&'static Nationality> {
    NATIONALITIES
        .iter()
        .find(|n| n.code.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_pattern_ok(p: &str) -> bool {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    }

    #[test]
    fn codes_sorted_unique_and_found() {
        for w in NATIONALITIES.windows(2) {
            assert!(w[0].code < w[1].code, "{} before {}", w[0].code, w[1].code);
        }
        for n in &NATIONALITIES {
            let lower = n.code.to_ascii_lowercase();
            assert_eq!(by_code(&lower).map(|m| m.code), Some(n.code));
        }
        assert!(by_code("XX").is_none());
    }

    #[test]
    fn lists_are_big_enough_and_clean() {
        for n in &NATIONALITIES {
            assert!(n.male_first.len() >= 20, "{}", n.code);
            assert!(n.female_first.len() >= 20, "{}", n.code);
            assert!(n.last.len() >= 30, "{}", n.code);
            assert!(n.streets.len() >= 15, "{}", n.code);
            assert!(n.cities.len() >= 15, "{}", n.code);
            assert!(n.states.len() >= 5, "{}", n.code);
            assert!(!n.male_titles.is_empty() && !n.female_titles.is_empty());
            for name in n.male_first.iter().chain(n.female_first).chain(n.last) {
                let ascii = match name.split_once('|') {
                    Some((display, ascii)) => {
                        assert!(!display.is_empty(), "{name}");
                        ascii
                    }
                    None => continue,
                };
                assert!(ascii.bytes().all(|b| b.is_ascii_lowercase()), "{name}");
            }
        }
    }

    #[test]
    fn patterns_are_ascii() {
        for n in &NATIONALITIES {
            assert!(is_pattern_ok(n.phone) && is_pattern_ok(n.cell), "{}", n.code);
            if let Some(id) = n.id_value {
                assert!(is_pattern_ok(id), "{}", n.code);
                assert!(!n.id_name.is_empty(), "{}", n.code);
            } else {
                assert!(n.id_name.is_empty(), "{}", n.code);
            }
            match n.postcode {
                Postcode::Int { min, max } => assert!(min <= max, "{}", n.code),
                Postcode::Text(p) => assert!(is_pattern_ok(p), "{}", n.code),
            }
        }
    }

    #[test]
    fn persian_names_have_ascii_forms() {
        let ir = by_code("IR").unwrap();
        for name in ir.male_first.iter().chain(ir.female_first).chain(ir.last) {
            assert!(name.contains('|'), "{name}");
        }
    }
}
