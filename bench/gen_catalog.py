#!/usr/bin/env python3
"""Writes a synthetic pharmacy catalog for the search and import benchmarks.

Usage: gen_catalog.py N OUT.csv [--seed S]

The CSV has the header and columns of catalog/demo/catalog.csv and N rows with unique, valid
PZN-8 numbers. The variety is meant to look like a German pharmacy's wholesaler export: a few
hundred active ingredients (real INNs and generated pronounceable ones), about 100
manufacturers, names like "Ibuprofen-ratiopharm 400 mg Filmtabletten" and brand names, several
strengths, dosage forms and pack sizes per ingredient, umlauts, quoted fields with commas
("0,1 %"), aliases. The output depends only on N and the seed (python3 stdlib only).
"""
import argparse
import csv
import os
import random
import sys

HEADER = ["pzn", "name", "manufacturer", "active_ingredient", "strength", "dosage_form",
          "pack_size", "dispensing", "price_eur", "stock", "supply", "aliases"]

# (name, class, dispensing, strengths); classes pick dosage forms and units below
REAL_INGREDIENTS = [
    ("Ibuprofen", "oral", "pharmacy", ["200", "400", "600", "800"]),
    ("Paracetamol", "oral", "pharmacy", ["125", "250", "500", "1000"]),
    ("Acetylsalicylsäure", "oral", "pharmacy", ["100", "300", "500"]),
    ("Diclofenac", "topical", "pharmacy", ["1 %", "2 %", "5 %"]),
    ("Naproxen", "oral", "pharmacy", ["200", "250", "500"]),
    ("Metamizol", "oral", "rx", ["500"]),
    ("Cetirizin", "oral", "pharmacy", ["10"]),
    ("Loratadin", "oral", "pharmacy", ["10"]),
    ("Desloratadin", "oral", "rx", ["5"]),
    ("Fexofenadin", "oral", "rx", ["120", "180"]),
    ("Xylometazolin", "nasal", "pharmacy", ["0,05 %", "0,1 %"]),
    ("Oxymetazolin", "nasal", "pharmacy", ["0,025 %", "0,05 %"]),
    ("Acetylcystein", "oral", "pharmacy", ["100", "200", "600"]),
    ("Ambroxol", "liquid", "pharmacy", ["15 mg/5 ml", "30 mg/5 ml", "7,5 mg/ml"]),
    ("Loperamid", "oral", "pharmacy", ["2"]),
    ("Omeprazol", "oral", "pharmacy", ["10", "20", "40"]),
    ("Pantoprazol", "oral", "pharmacy", ["20", "40"]),
    ("Esomeprazol", "oral", "rx", ["20", "40"]),
    ("Ramipril", "oral", "rx", ["1,25", "2,5", "5", "10"]),
    ("Enalapril", "oral", "rx", ["5", "10", "20"]),
    ("Lisinopril", "oral", "rx", ["5", "10", "20"]),
    ("Candesartan", "oral", "rx", ["4", "8", "16", "32"]),
    ("Valsartan", "oral", "rx", ["40", "80", "160", "320"]),
    ("Losartan", "oral", "rx", ["25", "50", "100"]),
    ("Telmisartan", "oral", "rx", ["40", "80"]),
    ("Bisoprolol", "oral", "rx", ["1,25", "2,5", "5", "10"]),
    ("Metoprolol", "oral", "rx", ["47,5", "95", "190"]),
    ("Nebivolol", "oral", "rx", ["5"]),
    ("Carvedilol", "oral", "rx", ["6,25", "12,5", "25"]),
    ("Amlodipin", "oral", "rx", ["5", "10"]),
    ("Lercanidipin", "oral", "rx", ["10", "20"]),
    ("Hydrochlorothiazid", "oral", "rx", ["12,5", "25"]),
    ("Torasemid", "oral", "rx", ["5", "10", "20"]),
    ("Furosemid", "oral", "rx", ["20", "40", "125"]),
    ("Spironolacton", "oral", "rx", ["25", "50", "100"]),
    ("Simvastatin", "oral", "rx", ["10", "20", "40"]),
    ("Atorvastatin", "oral", "rx", ["10", "20", "40", "80"]),
    ("Rosuvastatin", "oral", "rx", ["5", "10", "20"]),
    ("Pravastatin", "oral", "rx", ["20", "40"]),
    ("Ezetimib", "oral", "rx", ["10"]),
    ("Metformin", "oral", "rx", ["500", "850", "1000"]),
    ("Glimepirid", "oral", "rx", ["1", "2", "3", "4"]),
    ("Sitagliptin", "oral", "rx", ["25", "50", "100"]),
    ("Levothyroxin", "oral_ug", "rx", ["25", "50", "75", "100", "125"]),
    ("Colecalciferol", "oral_ie", "free", ["500", "1000", "2000", "20000"]),
    ("Folsäure", "oral_ug", "free", ["400", "800"]),
    ("Ascorbinsäure", "oral", "free", ["200", "500", "1000"]),
    ("Magnesium", "oral", "free", ["150", "300", "400"]),
    ("Zink", "oral", "free", ["10", "25"]),
    ("Calciumcarbonat", "oral", "free", ["500", "1000"]),
    ("Eisen(II)-sulfat", "oral", "pharmacy", ["50", "100"]),
    ("Allopurinol", "oral", "rx", ["100", "300"]),
    ("Colchicin", "oral", "rx", ["0,5"]),
    ("Prednisolon", "oral", "rx", ["5", "10", "20", "50"]),
    ("Hydrocortison", "topical", "pharmacy", ["0,25 %", "0,5 %", "1 %"]),
    ("Mometason", "topical", "rx", ["0,1 %"]),
    ("Betamethason", "topical", "rx", ["0,05 %", "0,1 %"]),
    ("Clotrimazol", "topical", "pharmacy", ["1 %", "2 %"]),
    ("Bifonazol", "topical", "pharmacy", ["1 %"]),
    ("Terbinafin", "topical", "pharmacy", ["1 %"]),
    ("Aciclovir", "topical", "pharmacy", ["5 %"]),
    ("Dexpanthenol", "topical", "pharmacy", ["5 %"]),
    ("Urea", "topical", "free", ["5 %", "10 %", "20 %"]),
    ("Dimetinden", "topical", "pharmacy", ["0,1 %"]),
    ("Heparin", "topical", "pharmacy", ["30000 I.E.", "60000 I.E."]),
    ("Amoxicillin", "oral", "rx", ["500", "750", "1000"]),
    ("Cefuroxim", "oral", "rx", ["250", "500"]),
    ("Clarithromycin", "oral", "rx", ["250", "500"]),
    ("Azithromycin", "oral", "rx", ["250", "500"]),
    ("Doxycyclin", "oral", "rx", ["100", "200"]),
    ("Ciprofloxacin", "oral", "rx", ["250", "500", "750"]),
    ("Levofloxacin", "oral", "rx", ["250", "500"]),
    ("Cotrimoxazol", "oral", "rx", ["480", "960"]),
    ("Nitrofurantoin", "oral", "rx", ["50", "100"]),
    ("Fosfomycin", "oral", "rx", ["3000"]),
    ("Sertralin", "oral", "rx", ["50", "100"]),
    ("Citalopram", "oral", "rx", ["10", "20", "40"]),
    ("Escitalopram", "oral", "rx", ["5", "10", "20"]),
    ("Fluoxetin", "oral", "rx", ["20"]),
    ("Venlafaxin", "oral", "rx", ["37,5", "75", "150"]),
    ("Mirtazapin", "oral", "rx", ["15", "30", "45"]),
    ("Amitriptylin", "oral", "rx", ["10", "25", "50"]),
    ("Quetiapin", "oral", "rx", ["25", "100", "200", "300"]),
    ("Olanzapin", "oral", "rx", ["5", "10", "15"]),
    ("Risperidon", "oral", "rx", ["0,5", "1", "2", "4"]),
    ("Pregabalin", "oral", "rx", ["25", "75", "150", "300"]),
    ("Gabapentin", "oral", "rx", ["100", "300", "600"]),
    ("Levetiracetam", "oral", "rx", ["250", "500", "1000"]),
    ("Lamotrigin", "oral", "rx", ["25", "50", "100", "200"]),
    ("Valproinsäure", "oral", "rx", ["150", "300", "500"]),
    ("Zolpidem", "oral", "rx", ["10"]),
    ("Zopiclon", "oral", "rx", ["7,5"]),
    ("Doxylamin", "oral", "pharmacy", ["25"]),
    ("Diphenhydramin", "oral", "pharmacy", ["50"]),
    ("Dimenhydrinat", "oral", "pharmacy", ["50", "150"]),
    ("Melatonin", "oral", "free", ["1", "2"]),
    ("Tramadol", "oral", "rx", ["50", "100", "150"]),
    ("Tilidin", "oral", "rx", ["50", "100", "150"]),
    ("Oxycodon", "oral", "rx", ["5", "10", "20", "40"]),
    ("Morphin", "oral", "rx", ["10", "30", "60"]),
    ("Sumatriptan", "oral", "rx", ["50", "100"]),
    ("Naratriptan", "oral", "pharmacy", ["2,5"]),
    ("Rizatriptan", "oral", "rx", ["5", "10"]),
    ("Apixaban", "oral", "rx", ["2,5", "5"]),
    ("Rivaroxaban", "oral", "rx", ["10", "15", "20"]),
    ("Edoxaban", "oral", "rx", ["30", "60"]),
    ("Clopidogrel", "oral", "rx", ["75"]),
    ("Phenprocoumon", "oral", "rx", ["3"]),
    ("Tamsulosin", "oral", "rx", ["0,4"]),
    ("Finasterid", "oral", "rx", ["1", "5"]),
    ("Sildenafil", "oral", "rx", ["25", "50", "100"]),
    ("Tadalafil", "oral", "rx", ["5", "10", "20"]),
    ("Salbutamol", "inhal", "rx", ["0,1 mg/Hub"]),
    ("Budesonid", "inhal", "rx", ["0,2 mg/Hub", "0,4 mg/Hub"]),
    ("Beclometason", "inhal", "rx", ["0,1 mg/Hub", "0,25 mg/Hub"]),
    ("Montelukast", "oral", "rx", ["4", "5", "10"]),
    ("Mesalazin", "oral", "rx", ["250", "500", "1000"]),
    ("Ondansetron", "oral", "rx", ["4", "8"]),
    ("Metoclopramid", "liquid", "rx", ["4 mg/ml"]),
    ("Domperidon", "oral", "rx", ["10"]),
    ("Butylscopolamin", "oral", "pharmacy", ["10"]),
    ("Simeticon", "liquid", "pharmacy", ["41,2 mg/ml", "69,19 mg/ml"]),
    ("Macrogol", "oral", "pharmacy", ["13,7 g", "10 g"]),
    ("Bisacodyl", "oral", "pharmacy", ["5", "10"]),
    ("Natriumpicosulfat", "liquid", "pharmacy", ["7,5 mg/ml"]),
    ("Lactulose", "liquid", "pharmacy", ["667 mg/ml"]),
    ("Insulin glargin", "inject", "rx", ["100 E/ml", "300 E/ml"]),
    ("Insulin aspart", "inject", "rx", ["100 E/ml"]),
    ("Enoxaparin", "inject", "rx", ["20 mg", "40 mg", "60 mg", "80 mg"]),
    ("Semaglutid", "inject", "rx", ["0,25 mg", "0,5 mg", "1 mg"]),
    ("Adalimumab", "inject", "rx", ["40 mg"]),
    ("Methotrexat", "inject", "rx", ["7,5 mg", "10 mg", "15 mg", "25 mg"]),
    ("Epinephrin", "inject", "rx", ["150 µg", "300 µg"]),
    ("Timolol", "eye", "rx", ["0,25 %", "0,5 %"]),
    ("Latanoprost", "eye", "rx", ["0,005 %"]),
    ("Dexamethason", "eye", "rx", ["0,1 %"]),
    ("Hyaluronsäure", "eye", "free", ["0,1 %", "0,15 %", "0,3 %"]),
    ("Azelastin", "nasal", "pharmacy", ["0,1 %"]),
    ("Cromoglicinsäure", "eye", "pharmacy", ["2 %"]),
    ("Nicotin", "oral", "pharmacy", ["1", "2", "4"]),
    ("Levonorgestrel", "oral", "pharmacy", ["1,5"]),
    ("Ulipristalacetat", "oral", "pharmacy", ["30"]),
    ("Estradiol", "oral", "rx", ["1", "2"]),
    ("Progesteron", "oral", "rx", ["100", "200"]),
    ("Tranexamsäure", "oral", "rx", ["500"]),
    ("Mefenaminsäure", "oral", "rx", ["250", "500"]),
    ("Alendronsäure", "oral", "rx", ["70"]),
    ("Fusidinsäure", "topical", "rx", ["2 %"]),
    ("Benzoylperoxid", "topical", "pharmacy", ["3 %", "5 %", "10 %"]),
    ("Minoxidil", "topical", "pharmacy", ["2 %", "5 %"]),
    ("Permethrin", "topical", "pharmacy", ["5 %"]),
    ("Lidocain", "topical", "pharmacy", ["2 %", "5 %"]),
    ("Benzocain", "oral", "pharmacy", ["8", "10"]),
    ("Chlorhexidin", "liquid", "pharmacy", ["0,1 %", "0,2 %"]),
    ("Povidon-Iod", "topical", "pharmacy", ["10 %"]),
    ("Hamamelis", "topical", "free", ["-"]),
    ("Baldrianwurzel-Trockenextrakt", "oral", "pharmacy", ["300", "450", "500"]),
    ("Efeublätter-Trockenextrakt", "liquid", "pharmacy", ["7 mg/ml", "35 mg/5 ml"]),
    ("Johanniskraut-Trockenextrakt", "oral", "pharmacy", ["300", "425", "900"]),
    ("Ginkgo-biloba-Blätter-Extrakt", "oral", "pharmacy", ["40", "80", "120", "240"]),
    ("Pelargoniumwurzel-Extrakt", "liquid", "pharmacy", ["800 mg/ml"]),
    ("Thymiankraut-Fluidextrakt", "liquid", "pharmacy", ["-"]),
    ("Mariendistelfrüchte-Trockenextrakt", "oral", "pharmacy", ["150", "300"]),
    ("Kürbissamen-Extrakt", "oral", "free", ["500"]),
]

# combinations are written with a comma, so the field is quoted in the CSV
COMBINATIONS = [
    ("Paracetamol, Coffein", "oral", "pharmacy", ["500/65", "350/50"]),
    ("Acetylsalicylsäure, Paracetamol, Coffein", "oral", "pharmacy", ["250/200/50"]),
    ("Ibuprofen, Pseudoephedrin", "oral", "pharmacy", ["200/30"]),
    ("Amlodipin, Valsartan", "oral", "rx", ["5/80", "5/160", "10/160"]),
    ("Ramipril, Hydrochlorothiazid", "oral", "rx", ["2,5/12,5", "5/25"]),
    ("Candesartan, Hydrochlorothiazid", "oral", "rx", ["8/12,5", "16/12,5"]),
    ("Amoxicillin, Clavulansäure", "oral", "rx", ["500/125", "875/125"]),
    ("Calciumcarbonat, Colecalciferol", "oral", "pharmacy", ["600/400", "1000/880"]),
    ("Xylometazolin, Dexpanthenol", "nasal", "pharmacy", ["0,05 %/5 %", "0,1 %/5 %"]),
    ("Lidocain, Prilocain", "topical", "pharmacy", ["2,5 %/2,5 %"]),
    ("Salmeterol, Fluticason", "inhal", "rx", ["50/250 µg", "50/500 µg"]),
    ("Emtricitabin, Tenofovirdisoproxil", "oral", "rx", ["200/245"]),
]

INN_STEMS = ["pril", "sartan", "olol", "statin", "azol", "prazol", "cillin", "floxacin", "tidin",
             "dipin", "gliptin", "oxetin", "triptan", "vir", "afil", "setron", "lukast", "parin",
             "mycin", "cyclin", "azepam", "pirid", "profen", "fenac", "tinib", "mab", "semid",
             "gliflozin", "xaban", "dronat"]
ONSETS = ["b", "br", "c", "d", "dr", "f", "fl", "g", "gl", "k", "kl", "l", "m", "n", "p", "pr",
          "r", "s", "st", "t", "tr", "v", "z", "ch", "x"]
VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "i", "y"]
UMLAUTS = ["ä", "ö", "ü"]
CODAS = ["", "", "", "n", "r", "l", "s", "m", "x", "t"]

REAL_MANUFACTURERS = [
    ("ratiopharm", "-ratiopharm"), ("Hexal", " HEXAL"), ("STADA", " STADA"),
    ("ALIUD Pharma", " AL"), ("Heumann", " Heumann"), ("AbZ-Pharma", " AbZ"),
    ("1 A Pharma", " - 1 A Pharma"), ("TAD Pharma", " TAD"), ("Zentiva", " Zentiva"),
    ("Mylan", " Mylan"), ("Aristo Pharma", " Aristo"), ("Basics", " Basics"),
    ("betapharm", "-beta"), ("CT Arzneimittel", "-CT"), ("PUREN Pharma", " PUREN"),
    ("Axiromed", " Axiromed"), ("Micro Labs", " Micro Labs"), ("Aurobindo", " Aurobindo"),
    ("Teva", "-Teva"), ("Sandoz", " Sandoz"), ("Dexcel Pharma", " Dexcel"),
    ("Glenmark", " Glenmark"), ("Accord Healthcare", " Accord"), ("Bluefish Pharma", " Bluefish"),
    ("Denk Pharma", " Denk"), ("Winthrop", " Winthrop"), ("Krewel Meuselbach", " Krewel"),
    ("Dr. Pfleger", " Dr. Pfleger"), ("Dermapharm", " Dermapharm"), ("mibe", " mibe"),
    ("Bayer Vital", " Bayer"), ("Sanofi-Aventis", " Sanofi"), ("Klosterfrau", " Klosterfrau"),
    ("Bionorica", " Bionorica"), ("Dr. Willmar Schwabe", " Schwabe"),
    ("Köhler Pharma", " Köhler"), ("Würzburger Arzneimittel", " Würzburg"),
    ("Dr. Kade", " Kade"), ("Merz Consumer Care", " Merz"), ("Hermes Arzneimittel", " Hermes"),
    ("Pohl-Boskamp", " Pohl"), ("Mibe Jena", " Jena"), ("Esparma", " Esparma"),
    ("Infectopharm", " Infecto"), ("Engelhard Arzneimittel", " Engelhard"),
    ("Wörwag Pharma", " Wörwag"), ("Hennig Arzneimittel", " Hennig"), ("Berlin-Chemie", " BC"),
]
MANUFACTURER_SUFFIXES = ["Pharma", "Arzneimittel", "Healthcare", "Pharmazeutika", "Generics",
                         "Laboratorien", "Medical", "Pharma GmbH"]

ORAL_FORMS = ["Tabletten", "Filmtabletten", "Hartkapseln", "Retardtabletten", "Brausetabletten",
              "magensaftresistente Tabletten", "Weichkapseln", "Schmelztabletten",
              "überzogene Tabletten", "Kautabletten", "Zäpfchen"]
FORMS = {
    "oral": ORAL_FORMS,
    "oral_ug": ["Tabletten", "Filmtabletten"],
    "oral_ie": ["Tabletten", "Weichkapseln", "Tropfen"],
    "liquid": ["Saft", "Tropfen", "Lösung zum Einnehmen", "Suspension", "Sirup"],
    "topical": ["Creme", "Salbe", "Gel", "Lotion", "Emulsion", "Lösung"],
    "nasal": ["Nasenspray", "Nasentropfen", "Nasengel"],
    "eye": ["Augentropfen", "Augengel", "Augentropfen Einzeldosen"],
    "inhal": ["Dosieraerosol", "Pulver zur Inhalation"],
    "inject": ["Injektionslösung", "Injektionslösung im Fertigpen", "Fertigspritzen"],
}
PACKS = {
    "oral": ["10 St", "20 St", "30 St", "50 St", "100 St"],
    "liquid": ["100 ml", "200 ml", "30 ml", "50 ml", "250 ml"],
    "topical": ["20 g", "50 g", "100 g", "150 g", "30 ml"],
    "nasal": ["10 ml", "15 ml", "20 ml"],
    "eye": ["10 ml", "5 ml", "20x0,5 ml", "60x0,4 ml"],
    "inhal": ["200 Hub", "1 St", "3x200 Hub"],
    "inject": ["1 St", "5 St", "10 St", "5x3 ml", "2 St"],
}
NAME_EXTRAS = ["akut", "forte", "mite", "Dolo", "comp.", "Junior", "retard", "plus", "S",
               "Duo", "Protect", "direkt", "Mono", "Lingual", "Classic", "extra"]


def pzn_check(base7):
    digits = f"{base7:07d}"
    return sum(int(d) * (i + 1) for i, d in enumerate(digits)) % 11


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.used_pzn = set()
        self.used_names = set()

    def word(self, syllables):
        r = self.rng
        s = "".join(r.choice(ONSETS) + r.choice(UMLAUTS if r.random() < 0.05 else VOWELS) +
                    r.choice(CODAS) for _ in range(syllables))
        return s[:1].upper() + s[1:]

    def pzn(self):
        r = self.rng
        while True:
            base = r.randrange(1, 10_000_000)
            check = pzn_check(base)
            if check == 10:
                continue
            pzn = f"{base:07d}{check}"
            if pzn not in self.used_pzn:
                self.used_pzn.add(pzn)
                return pzn

    def ingredients(self):
        r = self.rng
        out = [{"name": n, "cls": c, "disp": d, "strengths": s}
               for n, c, d, s in REAL_INGREDIENTS + COMBINATIONS]
        seen = {i["name"].lower() for i in out}
        classes = ["oral"] * 6 + ["liquid", "topical", "nasal", "eye", "inhal", "inject"]
        while len(out) < 340:
            name = self.word(r.choice([1, 2, 2])) + r.choice(INN_STEMS)
            if name.lower() in seen or len(name) < 6:
                continue
            seen.add(name.lower())
            cls = r.choice(classes)
            disp = r.choice(["rx"] * 5 + ["pharmacy"] * 2)
            out.append({"name": name, "cls": cls, "disp": disp, "strengths": self.strengths(cls)})
        for k, ing in enumerate(out):
            # popularity: the well-known ones and a few others have many generics, most a handful
            ing["weight"] = r.uniform(25, 40) if k < 12 else min(r.paretovariate(1.2), 40)
        return out

    def strengths(self, cls):
        r = self.rng
        if cls == "oral":
            base = r.choice([0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250])
            steps = sorted({base * f for f in r.sample([1, 2, 4, 8, 1.5, 3], r.randint(2, 4))})
            return [fmt_num(v) for v in steps]
        if cls == "liquid":
            return [f"{fmt_num(r.choice([1, 2, 5, 10, 20, 40]))} mg/ml",
                    f"{fmt_num(r.choice([15, 30, 50, 125, 250]))} mg/5 ml"]
        if cls in ("topical", "nasal", "eye"):
            return r.sample(["0,05 %", "0,1 %", "0,5 %", "1 %", "2 %", "5 %", "10 mg/g"],
                            r.randint(1, 3))
        if cls == "inhal":
            return [f"{fmt_num(r.choice([0.05, 0.1, 0.2, 0.25, 0.4]))} mg/Hub"]
        return [f"{fmt_num(r.choice([10, 20, 40, 50, 100]))} mg/ml",
                f"{fmt_num(r.choice([0.5, 1, 2, 5]))} mg"]

    def manufacturers(self):
        r = self.rng
        out = [{"name": n, "tag": t} for n, t in REAL_MANUFACTURERS]
        seen = {m["name"] for m in out}
        while len(out) < 100:
            w = self.word(r.choice([2, 2, 3]))
            name = f"{w} {r.choice(MANUFACTURER_SUFFIXES)}"
            if name in seen:
                continue
            seen.add(name)
            tag = r.choice([f" {w}", f"-{w.lower()}", f" {w[:3].upper()}"])
            out.append({"name": name, "tag": tag})
        return out


def fmt_num(v):
    """German decimal comma: 2.5 -> '2,5', 10.0 -> '10'."""
    if float(v).is_integer():
        return str(int(v))
    return f"{v:g}".replace(".", ",")


def strength_text(cls, s):
    if s == "-" or not s[-1].isdigit():
        return s
    if cls == "oral_ug":
        return f"{s} µg"
    if cls == "oral_ie":
        return f"{s} I.E."
    return f"{s} mg"


def pack_class(cls):
    return "oral" if cls.startswith("oral") else cls


def price(rng, pack, disp):
    count = int(pack.split()[0].split("x")[0].replace(",", "")) if pack[0].isdigit() else 1
    base = rng.uniform(1.5, 9.0) + count * rng.uniform(0.03, 0.25)
    if disp == "rx":
        base += rng.uniform(5, 40)
    if rng.random() < 0.02:
        base *= 20  # biologics and devices
    return f"{min(base, 99999):.2f}"


def aliases(rng, ing, strength_num, brand, name):
    out = []
    first = ing["name"].split(",")[0].split()[0].split("-")[0]
    if rng.random() < 0.35:
        out.append(f"{first[:3].capitalize()} {strength_num}" if strength_num else first[:4])
    if rng.random() < 0.35 and strength_num:
        out.append(f"{first} {strength_num}")
    if brand and rng.random() < 0.6:
        out.append(brand)
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        if a in name and rng.random() < 0.5:
            out.append(name.split()[0].replace(a, b))
            break
    return ";".join(dict.fromkeys(out))


def generate(n, seed, out):
    g = Generator(seed)
    r = g.rng
    ings = g.ingredients()
    mans = g.manufacturers()
    weights = [i["weight"] for i in ings]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    rows = 0
    misses = 0
    while rows < n:
        ing = r.choices(ings, weights)[0]
        man = r.choice(mans)
        cls = ing["cls"]
        s = r.choice(ing["strengths"])
        strength = strength_text(cls, s)
        form = r.choice(FORMS[cls])
        first = ing["name"].split(",")[0].strip()
        brand = ""
        style = r.random()
        if style < 0.15 or "," in ing["name"]:
            # a brand: "Dolovit akut 400 mg Filmtabletten"
            brand = g.word(r.choice([2, 3]))
            base = brand + (f" {r.choice(NAME_EXTRAS)}" if r.random() < 0.4 else "")
        elif style < 0.55:
            base = f"{first}{man['tag']}"
        else:
            extra = f" {r.choice(NAME_EXTRAS)}" if r.random() < 0.5 else ""
            base = f"{first}{man['tag']}{extra}"
        name = f"{base} {strength} {form}" if strength != "-" else f"{base} {form}"
        if misses > 1000:
            name += f" {r.randrange(2, 1000)}"  # an exhausted combination space: number the series
        if name in g.used_names:
            misses += 1
            continue
        misses = 0
        g.used_names.add(name)
        num = s.split()[0].split("/")[0] if s[0].isdigit() else ""
        al = aliases(r, ing, num, brand, name)
        packs = PACKS[pack_class(cls)]
        npacks = min(len(packs), r.choice([1, 1, 2, 2, 3, 4]))
        for pack in r.sample(packs, npacks):
            if rows == n:
                break
            disp = ing["disp"]
            if disp == "pharmacy" and s == ing["strengths"][-1] and len(ing["strengths"]) > 2:
                disp = "rx"  # the highest strength of an OTC ingredient needs a prescription
            if r.random() < 0.02:
                disp = r.choice(["pharmacy", "rx", "free"])
            stock = 0 if r.random() < 0.25 else r.randint(1, 50)
            supply = r.choices(["available", "shortage", "discontinued"], [90, 7, 3])[0]
            writer.writerow([g.pzn(), name, man["name"], ing["name"], strength, form, pack, disp,
                             price(r, pack, disp), stock, supply, al])
            rows += 1
    return rows


def main(argv):
    ap = argparse.ArgumentParser(description="Writes a synthetic pharmacy catalog CSV.")
    ap.add_argument("n", type=int, help="number of product rows")
    ap.add_argument("out", help="output CSV path ('-' for stdout)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    a = ap.parse_args(argv)
    if a.n < 0 or a.n > 8_000_000:
        ap.error("N must be from 0 to 8000000 (PZN space)")
    if a.out == "-":
        generate(a.n, a.seed, sys.stdout)
        return 0
    tmp = f"{a.out}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        generate(a.n, a.seed, f)
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
