"""`chainrule generate` with a saved GPT: the command uses the model's own cached generate."""
import numpy as np

from chainrule import cli
from chainrule.data.text import CharVocabulary, vocabulary_path
from chainrule.models.gpt import GPT


def test_generate_command_samples_from_a_saved_gpt(tmp_path, capsys):
    vocab = CharVocabulary.from_text("abcdefgh ROMEO:\n")
    model = GPT(vocab.size, 16, 1, 2, 8, 0.0, False)
    model(np.zeros((1, 4), dtype=np.int64))
    path = tmp_path / "gpt.safetensors"
    model.save(path)
    vocab.save(vocabulary_path(path))
    assert cli.main(["generate", str(path), "--prompt", "ROMEO:", "--length", "20", "--seed", "0"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 20
    assert set(text) <= set(vocab.chars)
