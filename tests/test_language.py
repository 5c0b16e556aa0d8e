"""Answers the embedding model cannot read as written: other languages, typing slips.

`answer_language` must name a non-English answer (so a teacher sees it rather
than the model failing it) and must leave every English answer alone: terse,
technical, full of borrowed terms or typed in a hurry. `respell` must repair
slips against the card's words and touch nothing else, character for character.
"""

from __future__ import annotations

import time

import pytest

from examiner.scoring.language import Speller, answer_language, respell

# --- answer_language -------------------------------------------------------------------------

FOREIGN = {
    "French": [
        "La convolution applique un filtre sur l'image pour extraire des caractéristiques locales.",
        "Le taux d'apprentissage contrôle la taille des pas de la descente de gradient.",
        "Le surapprentissage se produit quand le modèle mémorise les données d'entraînement.",
        "La fonction ReLU met à zéro les valeurs négatives et garde les valeurs positives.",
        "Le dropout désactive au hasard des neurones pendant l'entraînement.",
        "Le gradient indique la direction dans laquelle la perte augmente le plus vite.",
    ],
    "German": [
        "Die Faltung schiebt einen Filter über das Bild und berechnet ein Skalarprodukt.",
        "Die Lernrate bestimmt, wie groß die Schritte beim Gradientenabstieg sind.",
        "Überanpassung bedeutet, dass das Modell die Trainingsdaten auswendig lernt.",
        "Dropout schaltet während des Trainings zufällig Neuronen ab, damit das Netz robust wird.",
        "Der Gradient zeigt in die Richtung, in der die Verlustfunktion am stärksten steigt.",
        "Beim Pooling wird die Auflösung der Merkmalskarte verringert, was Rechenzeit spart.",
    ],
    "Spanish": [
        "La convolución aplica un filtro sobre la imagen para extraer características locales.",
        "La tasa de aprendizaje controla el tamaño de los pasos en el descenso por gradiente.",
        "El sobreajuste ocurre cuando el modelo memoriza los datos de entrenamiento.",
        "La función ReLU pone a cero los valores negativos y deja pasar los positivos.",
        "El dropout apaga neuronas al azar durante el entrenamiento para que la red no dependa.",
        "¿Por qué el gradiente apunta hacia donde la pérdida crece más rápido?",
    ],
    "Italian": [
        "La convoluzione applica un filtro sull'immagine per estrarre caratteristiche locali.",
        "Il tasso di apprendimento controlla la dimensione dei passi nella discesa del gradiente.",
        "L'overfitting si verifica quando il modello memorizza i dati di addestramento.",
        "La funzione ReLU azzera i valori negativi e lascia passare quelli positivi.",
        "Il dropout spegne a caso alcuni neuroni durante l'addestramento, così la rete è robusta.",
        "Il gradiente indica la direzione in cui la perdita cresce più rapidamente.",
    ],
    "Portuguese": [
        "A convolução aplica um filtro sobre a imagem para extrair características locais.",
        "A taxa de aprendizagem controla o tamanho dos passos na descida do gradiente.",
        "O sobreajuste acontece quando o modelo memoriza os dados de treino e não generaliza.",
        "A função ReLU zera os valores negativos e mantém os valores positivos.",
        "O dropout desliga neurônios ao acaso durante o treino para que a rede não dependa.",
        "O gradiente aponta para a direção em que a perda cresce mais rápido.",
    ],
}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        pytest.param(text, language, id=f"{language}-{i}")
        for language, texts in FOREIGN.items()
        for i, text in enumerate(texts)
    ],
)
def test_a_non_english_answer_is_named(text: str, language: str) -> None:
    assert answer_language(text) == language


ENGLISH = [
    "the kernel slides over the input and computes dot products",
    "ReLU, max pooling, softmax",
    "stride 2 halves the feature map",
    "u take the gradint n move the weigths oposite to it so loss goes down",
    "backprop uses chain rule 2 get grads 4 each layer then sgd updates em",
    "momentum keeps a running avg of past grads so u dont zigzag as much in ravines",
    "The learning rate controls how big each step of gradient descent is.",
    "Overfitting is when the model memorises the training data and does not generalise.",
    "Dropout randomly zeroes activations during training, e.g. with p = 0.5, i.e. half.",
    "Max pooling takes the max in each 2x2 window, a la downsampling, per channel.",
    "A CNN uses conv layers, then ReLU, then pooling, then a dense layer and softmax.",
    "Sigmoid squashes to (0,1) but its gradient vanishes for large inputs so the neurons die.",
    "Batch norm normalises each feature over the mini-batch then rescales with gamma and beta.",
    "Attention computes softmax(QK^T / sqrt(d)) V over the sequence, per head.",
    "sin and cos positional encodings, con: no recurrence, del operator",
    "The naïve Bayes classifier assumes features are independent given the class.",
    "Transfer learning: fine-tune a pretrained ResNet on the new dataset, freeze early layers.",
    "Yann LeCun and Léon Bottou trained LeNet on MNIST digits.",
    "de-noising autoencoders learn to reconstruct clean inputs from corrupted ones",
    "Convolution, pooling, activation, softmax, dropout, batchnorm, residuals, attention",
]


@pytest.mark.parametrize("text", ENGLISH)
def test_an_english_answer_is_not_flagged(text: str) -> None:
    assert answer_language(text) is None


@pytest.mark.parametrize("text", ["", "   ", "la convolution", "der Gradient", "¿Por qué?"])
def test_a_short_answer_is_never_flagged(text: str) -> None:
    assert answer_language(text) is None


def test_an_answer_half_in_english_is_not_clearly_foreign() -> None:
    text = "The gradient points uphill, so we step the other way: le gradient est la pente."
    assert answer_language(text) is None


# --- respell ---------------------------------------------------------------------------------

CARD = ["the gradient gives the direction of steepest ascent"]


def test_slips_are_repaired_against_the_card() -> None:
    text = "the gradint tells the direcion of steepest ascent"
    assert respell(text, CARD) == "the gradient tells the direction of steepest ascent"


def test_capitalisation_is_kept() -> None:
    assert respell("Gradint points uphill", CARD) == "Gradient points uphill"
    assert respell("gradint", CARD) == "gradient"


@pytest.mark.parametrize("text", ["GRADINT", "GraDint", "ReLu"])
def test_capitals_inside_a_word_mean_it_is_left(text: str) -> None:
    assert respell(text, [*CARD, "relu"]) == text


def test_punctuation_and_spacing_are_kept_exactly() -> None:
    text = "  The gradint,\tit tells (the direcion)!\n— steepest  ascnet?  "
    expected = "  The gradient,\tit tells (the direction)!\n— steepest  ascent?  "
    assert respell(text, CARD) == expected


@pytest.mark.parametrize(
    "text",
    [
        "banana bread recipe",  # near nothing on the card
        "teh grd of asc",  # under 4 letters
        "it tells us",  # a right English word that is not on the card
        "gradients give directions",  # forms of card words, not slips
    ],
)
def test_words_that_are_not_slips_are_untouched(text: str) -> None:
    assert respell(text, CARD) == text


def test_two_edits_repair_a_long_word_only() -> None:
    card = ["a convolution slides a kernel over the image"]
    assert respell("convloutoin", card) == "convolution"  # two swaps, 11 letters
    assert respell("krenl", card) == "krenl"  # two edits, 5 letters: too far


def test_two_edits_need_the_same_first_letter() -> None:
    card = ["convolution"]
    assert respell("vonvolutiom", card) == "vonvolutiom"
    assert respell("convolutiom", card) == "convolution"  # one edit: any letter may slip


def test_a_tie_leaves_the_word() -> None:
    assert respell("modul", ["model modal"]) == "modul"


def test_an_everyday_word_is_not_turned_into_a_card_word() -> None:
    card = ["the loss of a decision tree"]
    assert respell("less loss with three trees", card) == "less loss with three trees"


def test_an_inflected_form_of_a_card_word_is_kept() -> None:
    card = ["compute the weight update"]
    assert respell("computed weights updates", card) == "computed weights updates"


def test_a_plural_slip_keeps_its_plural() -> None:
    card = ["move the weight opposite to the gradient"]
    assert respell("move the weigths", card) == "move the weights"


def test_digits_and_identifiers_are_left() -> None:
    card = ["a residual network"]
    assert respell("ResNet50 conv2d", card) == "ResNet50 conv2d"


@pytest.mark.parametrize(
    "text",
    [
        "the gradint tells the direcion of steepest ascnet",
        "Gradint, direcion; Steepest ascnet.",
        "move the weigths oposite to the gradint",
        "",
    ],
)
def test_respelling_is_idempotent(text: str) -> None:
    card = [*CARD, "move the weights opposite to the gradient"]
    once = respell(text, card)
    assert respell(once, card) == once


def test_an_empty_vocabulary_changes_nothing() -> None:
    assert respell("the gradint", []) == "the gradint"


def test_the_speller_and_the_function_agree() -> None:
    speller = Speller(CARD)
    text = "the gradint tells the direcion"
    assert speller.respell(text) == respell(text, CARD)
    assert speller.correction("direcion") == "direction"
    assert speller.correction("tells") is None


REFERENCE = """
Gradient descent minimises the loss by moving the weights a small step opposite to the
gradient. The learning rate sets the step size; too large a rate overshoots and diverges,
too small a rate converges slowly. Stochastic gradient descent estimates the gradient on a
mini-batch, which adds noise that can help escape saddle points and sharp minima. Momentum
accumulates past gradients to damp oscillations across ravines and speed progress along
them. Adaptive methods such as Adam scale each parameter's step by running estimates of the
first and second moments of its gradient. Convolution kernels share weights across spatial
positions, pooling reduces resolution, dropout regularises by randomly removing activations
during training, batch normalisation standardises activations per feature over the
mini-batch, residual connections let gradients flow through very deep networks without
vanishing, weight decay penalises large parameters, early stopping halts training when the
validation error rises, and data augmentation enlarges the training set with transformed
copies such as flips, crops, rotations and colour jitter applied to every input image.
Attention weighs every token of a sequence by the softmax of query and key similarity, an
encoder embeds the sentence, a decoder generates the translation word by word, recurrent
cells carry hidden state between timesteps, and gated units keep long dependencies alive.
"""
ANSWER = (
    "u take the gradint n move the weigths oposite to it so loss goes down, the lerning "
    "rate sets the stpe size and momentun acumulates past gradiants to dampen osillations, "
    "adam scales each paramter by runing estimats of the momets, dropuot regularizes by "
    "removing activatoins randomly in trainig, batchnorm standardizes per featrue and "
    "resdiual conections help gradeints flow thru deep netwroks"
)


def test_respelling_is_fast() -> None:
    """60 words against a 150-word card: well under a millisecond a word, index included."""
    vocabulary = REFERENCE.split()
    assert len(Speller(vocabulary).vocabulary) >= 150
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        Speller(vocabulary).respell(ANSWER)
        best = min(best, time.perf_counter() - start)
    assert best / len(ANSWER.split()) < 1e-3
