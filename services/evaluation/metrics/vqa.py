"""VQA accuracy with the official evaluation's normalisation (GT-Vision-Lab/VQA, vqaEval.py), under the
current rule and the one before 2021."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum


class VqaNormalisation(StrEnum):
    """When VQA answers are normalised before comparison.

    WHEN_ANNOTATORS_DISAGREE is the official VQA evaluation's rule (GT-Vision-Lab/VQA since commit
    a013f00, 2021): if all annotators gave the same string, answers are compared as typed (after
    trimming); otherwise prediction and answers are normalised first. ALWAYS is the rule before that
    commit, still in many evaluation frameworks: the prediction is always normalised, the answers get
    punctuation processing only when they disagree (so "Yes" against ten "yes" scores 1).
    """

    WHEN_ANNOTATORS_DISAGREE = "official"
    ALWAYS = "always"


# The tables and rules of GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py (commit
# a013f00), copied as they are: including keys that can never match because answers are lowercased
# first ("Im", "Ive", "Id've"), identity entries ("she's", "let's") and the one mapping that drops an
# apostrophe ("somebody'd" -> "somebodyd"). Do not "fix" them: scores must equal the official code's.
VQA_CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't",
    "mustve": "must've", "neednt": "needn't", "notve": "not've", "oclock": "o'clock",
    "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's",
    "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's",
    "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've",
    "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
    "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    "youll": "you'll", "youre": "you're", "youve": "you've",
}  # fmt: skip
VQA_MANUAL_MAP: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
VQA_ARTICLES = ("a", "an", "the")
VQA_PUNCT = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)
# The official pattern, "(?!<=\d)(\.)(?!\d)", meant a lookbehind but is a lookahead that always holds:
# every period not followed by a digit goes.
_VQA_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_VQA_COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
# The official call is periodStrip.sub("", text, re.UNICODE): the flag lands in ``count``, so at most
# re.UNICODE (32) periods are removed.
_VQA_PERIODS_REMOVED = int(re.UNICODE)


def vqa_process_punctuation(text: str) -> str:
    """vqaEval.py's processPunctuation: a mark touching a space, or any mark when the text holds a
    thousands comma, is deleted; otherwise it becomes a space; then periods not before a digit go."""
    out = text
    thousands = _VQA_COMMA_STRIP.search(text) is not None
    for mark in VQA_PUNCT:
        if f"{mark} " in text or f" {mark}" in text or thousands:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _VQA_PERIOD_STRIP.sub("", out, count=_VQA_PERIODS_REMOVED)


def vqa_process_digit_article(text: str) -> str:
    """vqaEval.py's processDigitArticle: lowercase, split on whitespace, number words to digits,
    articles dropped, then the contractions table."""
    words = [VQA_MANUAL_MAP.get(word, word) for word in text.lower().split()]
    kept = [word for word in words if word not in VQA_ARTICLES]
    return " ".join(VQA_CONTRACTIONS.get(word, word) for word in kept)


def _vqa_trim(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def vqa_normalize(answer: str) -> str:
    """An answer as the official evaluation compares it when it normalises: trimmed, punctuation
    processed, then digits, articles and contractions."""
    return vqa_process_digit_article(vqa_process_punctuation(_vqa_trim(answer)))


def vqa_accuracy(
    prediction: str,
    annotator_answers: Sequence[str],
    normalisation: VqaNormalisation = VqaNormalisation.WHEN_ANNOTATORS_DISAGREE,
) -> float:
    """VQA accuracy: min(#other annotators agreeing / 3, 1), averaged over the leave-one-out subsets.

    WHEN_ANNOTATORS_DISAGREE is vqaEval.py since a013f00: answers and prediction are trimmed; both are
    normalised only when the answers are not all the same. ALWAYS is the rule before it (and of the
    many frameworks copied from it): the prediction is always trimmed and normalised; the answers are
    left as they are, or given processPunctuation only, when they disagree. With a single reference
    there is no subset to leave one out of, so it degrades to exact match.
    """
    if not annotator_answers:
        return 0.0
    if normalisation is VqaNormalisation.WHEN_ANNOTATORS_DISAGREE:
        answers = [_vqa_trim(answer) for answer in annotator_answers]
        predicted = _vqa_trim(prediction)
        if len(set(answers)) > 1:
            answers = [vqa_process_digit_article(vqa_process_punctuation(answer)) for answer in answers]
            predicted = vqa_process_digit_article(vqa_process_punctuation(predicted))
    else:
        predicted = vqa_normalize(prediction)
        answers = list(annotator_answers)
        if len(set(answers)) > 1:
            answers = [vqa_process_punctuation(answer) for answer in answers]
    if len(answers) == 1:
        return 1.0 if answers[0] == predicted else 0.0
    agreeing = sum(1 for answer in answers if answer == predicted)
    subset_scores = [min(1.0, (agreeing - (1 if answer == predicted else 0)) / 3) for answer in answers]
    return sum(subset_scores) / len(subset_scores)
