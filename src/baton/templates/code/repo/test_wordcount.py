import unittest

from wordcount import count_words, longest


class WordCountTest(unittest.TestCase):
    def test_counts_words_whatever_the_spacing(self) -> None:
        self.assertEqual(count_words("one  two\tthree\n"), 3)

    def test_longest_word(self) -> None:
        self.assertEqual(longest("a bb ccc dd"), "ccc")


if __name__ == "__main__":
    unittest.main()
