from oml_core import text_corpus


def test_split_is_fixed_and_disjoint():
    train, held = set(text_corpus.paragraphs("train")), set(text_corpus.paragraphs("held_out"))
    assert train and held and not train & held
    assert text_corpus.held_out_texts(5) == list(text_corpus.paragraphs("held_out"))[:5]
    assert not set(text_corpus.sentences("train")) & set(text_corpus.sentences("held_out"))


def test_sentences_are_prose():
    sents = text_corpus.sentences("train")
    assert len(sents) > 300
    assert all(s.endswith(".") and 6 <= len(s.split()) <= 30 for s in sents)
    assert not any("::=" in s or "\n" in s for s in sents)


def test_words_are_ranked_and_lowercase():
    words = text_corpus.words("train")
    assert words[0] == "the"
    assert all(w == w.lower() and len(w) >= 3 for w in words)
    assert text_corpus.tokenize_words("The Cat's hat") == ["the", "cat's", "hat"]
