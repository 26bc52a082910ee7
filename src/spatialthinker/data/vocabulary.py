"""Closed vocabularies of the scene-graph question generators: predicate groups, answer directions, salience lists.

Kept as data in one module so that the rules of data.md §3 are read and reviewed in one place, and so that every
generator (and the tests that recompute answers) uses the same tables. Tables are checked once at import
(duplicates and unknown references raise), as style.md §4.3 asks of closed vocabularies.
"""

from __future__ import annotations

import re
from functools import lru_cache

from spatialthinker.data.labels import head, lemma

# ------------------------------------------------------------------------------------------ predicate groups
#: Canonical predicate groups of data.md §3. A predicate not listed falls into MISC.
PREDICATE_GROUPS: dict[str, tuple[str, ...]] = {
    "ABOVE_BELOW": ("above", "over", "beneath", "under", "below", "underneath", "on bottom of", "below of"),
    "LEFT_RIGHT": ("to the left of", "to the right of", "left of", "right of", "on the left of", "on the right of",
                   "on left side of", "on right side of"),
    "FRONT_BEHIND": ("behind", "in front of", "on back of", "at the back of", "in back of", "on front of",
                     "infront of", "front of"),
    "INSIDE_CONTAINING": ("in", "inside", "inside of", "within", "contains", "containing", "filled with",
                          "surrounded by", "surrounding", "enclosing"),
    "ON_SUPPORTING": ("on", "on top of", "sitting on", "standing on", "lying on", "laying on", "parked on",
                      "mounted on", "riding", "riding on", "hanging from", "hanging on", "growing on", "resting on",
                      "walking on", "walking in", "perched on", "painted on", "printed on", "supporting",
                      "sitting in", "standing in", "lying in", "flying in", "on side of"),
    "TOUCHING_ADJACENT": ("touching", "holding", "attached to", "leaning against", "leaning on", "next to",
                          "beside", "against", "carrying", "by", "adjacent to", "pushing", "pulling", "using",
                          "eating", "playing", "playing with", "throwing", "catching", "hitting", "kicking",
                          "holding up", "grabbing", "cutting"),
    "NEAR_FAR": ("near", "close to", "far from", "far away from", "nearby"),
    "BETWEEN": ("between", "in between"),
    "ACROSS_ALONG": ("across", "along", "across from", "alongside", "on opposite side of"),
    "FACING_ORIENTATION": ("facing", "looking at", "watching", "facing towards", "facing toward", "facing away from",
                           "looking toward", "looking towards", "staring at"),
    "SIZE": ("bigger than", "smaller than", "taller than", "shorter than", "larger than"),
    "MISC": ("and", "at", "belonging to", "covered in", "covering", "covered by", "for", "from", "has", "have",
             "made of", "of", "part of", "says", "to", "wearing", "wears", "with", "has on", "dressed in"),
}

#: Possession/material/containment-by-wearing predicates: only used when nothing better exists (data.md §3).
WEAK_PREDICATES: frozenset[str] = frozenset(
    {"has", "have", "of", "with", "wearing", "wears", "has on", "dressed in", "made of", "part of", "belonging to",
     "and", "for", "from", "to", "says", "covered in", "covering", "covered by", "at"})

#: Physical interaction verbs for the ``reach`` category and their display form.
REACH_VERBS: dict[str, str] = {
    "holding": "holding", "holding up": "holding", "grabbing": "holding", "carrying": "carrying",
    "touching": "touching", "pushing": "pushing", "pulling": "pulling", "riding": "riding", "riding on": "riding",
    "using": "using", "eating": "eating", "throwing": "throwing", "catching": "catching", "kicking": "kicking",
    "hitting": "hitting", "leaning on": "leaning on", "leaning against": "leaning on", "cutting": "cutting",
    "playing with": "playing with",
}
#: Interaction answers that contradict each verb (no contact at all); used as distractors.
NO_CONTACT_ANSWERS: tuple[str, ...] = ("not touching it", "standing far away from it", "pointing at it from afar")

# --------------------------------------------------------------------------------- directional answers
#: Direction of a predicate, seen from the subject: the answer space of ``relation`` questions.
PREDICATE_DIRECTION: dict[str, str] = {}
for _direction, _preds in {
    "above": ("above", "over"),
    "below": ("beneath", "under", "below", "underneath", "below of", "on bottom of"),
    "left": ("to the left of", "left of", "on the left of", "on left side of"),
    "right": ("to the right of", "right of", "on the right of", "on right side of"),
    "behind": ("behind", "at the back of", "in back of", "on back of"),
    "front": ("in front of", "infront of", "front of", "on front of"),
    "inside": ("in", "inside", "inside of", "within"),
    "on": ("on", "on top of", "sitting on", "standing on", "lying on", "laying on", "parked on", "mounted on",
           "resting on", "walking on", "perched on", "riding on", "riding", "hanging on"),
    "near": ("near", "close to", "next to", "beside", "by", "adjacent to", "nearby", "alongside"),
    "far": ("far from", "far away from"),
}.items():
    for _pred in _preds:
        PREDICATE_DIRECTION[_pred] = _direction

#: Display text of each direction (the option text of relation questions).
DIRECTION_TEXT: dict[str, str] = {
    "above": "above", "below": "below", "left": "to the left of", "right": "to the right of", "behind": "behind",
    "front": "in front of", "inside": "inside", "on": "on", "near": "next to", "far": "far from",
}
#: Directions that the answer direction rules out: only these are safe distractors. VG uses "on" and "in" loosely
#: ("man on bus" is inside it, "man sitting in chair" is on it), so on/inside never exclude each other.
CONTRADICTS: dict[str, tuple[str, ...]] = {
    "above": ("below", "inside"), "below": ("above", "on"), "left": ("right",), "right": ("left",),
    "behind": ("front",), "front": ("behind",), "inside": ("far",), "on": ("below", "far"),
    "near": ("far",), "far": ("near", "on", "inside"),
}
#: Direction implied for the *object* when the subject has a direction (``a on b`` -> ``b below a``).
INVERSE_DIRECTION: dict[str, str] = {
    "above": "below", "below": "above", "left": "right", "right": "left", "behind": "front", "front": "behind",
    "on": "below", "inside": "near", "near": "near", "far": "far",
}

# ---------------------------------------------------------------------------------------- salience lists
#: Parts, decorations and text: never the subject of a question (data.md §3 salience).
PART_LABELS: frozenset[str] = frozenset("""
logo sign window windows hair sleeve sleeves letter letters writing text word words number numbers stripe stripes
spot spots shadow shade back front side edge corner top bottom part design pattern reflection handle knob button
buttons wheel wheels tire tires leaf leaves branch branches trunk roof door doors light lights
headlight headlights taillight windshield mirror pocket collar strap label sticker line lines
trim frame screen
""".split()) | frozenset({"tree trunk", "license plate", "side mirror", "tail light", "street sign"})
#: Clothing and worn accessories (relations to them are skipped).
CLOTHING_LABELS: frozenset[str] = frozenset("""
shirt shirts t shirt pants jeans jacket coat hat cap helmet shoe shoes sneakers boot boots sock socks glove gloves
glasses sunglasses goggles shorts dress skirt tie scarf belt uniform vest sweater hoodie jersey necklace bracelet
watch backpack bag purse outfit suit top
""".split()) | frozenset({"t shirt", "tank top", "baseball cap"})
#: Body parts (relations to them are skipped).
BODY_PART_LABELS: frozenset[str] = frozenset("""
head face ear ears eye eyes nose mouth lip lips teeth tongue chin cheek neck arm arms hand hands finger fingers
leg legs foot feet knee knees shoulder shoulders hair beard mustache tail paw paws mane horn horns body skin wrist
elbow thumb
""".split())
#: Stuff and regions: no instance location, no counting (not countable), but fine as relation referents.
STUFF_LABELS: frozenset[str] = frozenset("""
sky ground grass water snow sand street road sidewalk floor wall ceiling field air dirt ocean sea beach mountain
mountains hill hills cloud clouds fog smoke land pavement area background scene room
""".split())

#: High-level categories: inter-category relations are preferred (data.md §3).
HIGH_LEVEL: dict[str, tuple[str, ...]] = {
    "person": ("man", "woman", "person", "guy", "boy", "girl", "child", "kid", "lady", "people", "player", "skier",
               "surfer", "skateboarder", "rider", "men", "women", "baby", "audience", "crowd", "tennis player"),
    "vehicle": ("car", "van", "truck", "bus", "bike", "bicycle", "motorcycle", "train", "boat", "airplane", "plane",
                "taxi", "work truck", "cars", "bikes", "scooter", "jeep", "suv"),
    "animal": ("dog", "cat", "horse", "cow", "sheep", "bird", "elephant", "giraffe", "zebra", "bear", "duck"),
    "furniture": ("chair", "table", "bench", "couch", "sofa", "bed", "desk", "shelf", "cabinet", "lamp", "stool"),
    "structure": ("building", "house", "tower", "bridge", "fence", "pole", "lamp post", "street light",
                  "parking meter", "traffic light", "clock", "tent", "fire hydrant", "post"),
    "plant": ("tree", "trees", "bush", "bushes", "plant", "flower", "flowers", "grass"),
    "object": ("cup", "bottle", "bowl", "plate", "laptop", "phone", "book", "umbrella", "kite", "frisbee", "ball",
               "skateboard", "surfboard", "ski", "skis", "racket", "pizza", "cake", "vase", "remote", "tv", "box"),
}
LABEL_CATEGORY: dict[str, str] = {label: group for group, labels in HIGH_LEVEL.items() for label in labels}

#: Synonym sets: a class in one set counts as present for every member (existence distractors must avoid them).
SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(s.split(",")) for s in (
    "person,man,woman,guy,boy,girl,child,kid,lady,people,men,women,player,skier,surfer,rider,adult,baby,audience,crowd",
    "bike,bicycle,bikes,bicycles", "car,cars,vehicle,automobile,taxi", "truck,work truck,van,lorry",
    "motorcycle,motorbike,scooter", "tree,trees", "sofa,couch", "tv,television,monitor,screen",
    "cup,mug", "road,street", "sidewalk,pavement", "lamp post,street light,light pole,pole,post",
    "phone,cell phone,cellphone", "plane,airplane,jet", "dog,puppy", "cat,kitten", "hill,mountain,mountains,hills"))

#: Scene contexts: plausible absent classes for ``existence`` "no" questions come from the best-matching context.
CONTEXTS: dict[str, tuple[str, ...]] = {
    "street": ("car", "bus", "truck", "bike", "motorcycle", "traffic light", "fire hydrant", "bench", "dog",
               "stop sign", "parking meter", "person", "umbrella", "tree", "building", "lamp post", "taxi"),
    "indoor": ("chair", "table", "couch", "lamp", "tv", "bed", "book", "cup", "vase", "clock", "laptop", "plant",
               "cat", "dog", "window", "bottle", "remote"),
    "kitchen": ("refrigerator", "oven", "sink", "microwave", "cup", "bowl", "plate", "knife", "bottle", "table",
                "chair", "spoon", "fork"),
    "outdoor": ("tree", "dog", "bird", "horse", "cow", "bench", "kite", "boat", "person", "fence", "sheep", "tent",
                "bike", "frisbee"),
    "snow": ("skier", "ski", "snowboard", "pole", "tree", "person", "mountain", "tent", "dog", "sled"),
    "beach": ("surfboard", "umbrella", "boat", "person", "dog", "kite", "chair", "bird", "towel"),
    # the simulator's blocks world (data/sim/blocks.py): absent classes are the other blocks
    "blocks": ("cube", "ball", "cylinder", "cone"),
}

_WORD = re.compile(r"[a-z]+")


def predicate_group(predicate: str) -> str:
    """Canonical group of a (clean) predicate; MISC when unknown.

    Example:
        >>> predicate_group("parked on"), predicate_group("wears"), predicate_group("zoomed")
        ('ON_SUPPORTING', 'MISC', 'MISC')
    """
    return _GROUP_OF.get(clean_predicate(predicate), "MISC")


def clean_predicate(predicate: str) -> str:
    """Lower-case, strip and collapse whitespace (``"  Parked  ON "`` -> ``"parked on"``)."""
    return " ".join(str(predicate).lower().split())


def synonyms_of(label: str) -> frozenset[str]:
    """The synonym set containing ``label`` or its lemma (itself alone when it has none)."""
    for group in SYNONYMS:
        if label in group or lemma(label) in group:
            return group
    return frozenset({label})


@lru_cache(maxsize=65536)
def is_background(label: str) -> bool:
    """True for parts, clothing, body parts: never the subject of a question (data.md §3).

    Matched by lemma ("hats" is a hat) and, for garments and body parts, by head noun ("baseball cap",
    "man's hand"); parts match the whole lemma only, since "traffic light" is an object though "light" is a part.

    Example:
        >>> is_background("hats"), is_background("baseball caps"), is_background("traffic light")
        (True, True, False)
    """
    base = lemma(label)
    if base in _PART_LEMMAS:
        return True
    return bool({base, head(base)} & _WORN_LEMMAS)


@lru_cache(maxsize=65536)
def is_stuff(label: str) -> bool:
    """Stuff and regions (sky, street, clouds...) by lemma: referents only, never counted or located."""
    return lemma(label) in _STUFF_LEMMAS


_PART_LEMMAS = frozenset(lemma(x) for x in PART_LABELS)
_WORN_LEMMAS = frozenset(lemma(x) for x in CLOTHING_LABELS | BODY_PART_LABELS)
_STUFF_LEMMAS = frozenset(lemma(x) for x in STUFF_LABELS)
#: Colour words: the only attributes used to tell instances of one class apart, and only when every instance
#: has a different annotated colour ("parked car" vs "white car" may both describe one car).
COLOURS: frozenset[str] = frozenset(
    "white black red blue green yellow orange brown pink purple grey gray silver gold tan beige".split())


def _check_tables() -> dict[str, str]:
    group_of: dict[str, str] = {}
    for group, preds in PREDICATE_GROUPS.items():
        for pred in preds:
            if pred in group_of:
                raise ValueError(f"predicate {pred!r} is in both {group_of[pred]} and {group}")
            group_of[pred] = group
    for direction, others in CONTRADICTS.items():
        unknown = [d for d in (direction, *others) if d not in DIRECTION_TEXT]
        if unknown:
            raise ValueError(f"CONTRADICTS refers to unknown directions {unknown}")
    if len(set(DIRECTION_TEXT.values())) != len(DIRECTION_TEXT):
        raise ValueError("DIRECTION_TEXT has duplicate display texts")
    return group_of


_GROUP_OF = _check_tables()
