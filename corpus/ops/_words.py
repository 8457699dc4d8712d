"""Word splitting that reproduces datatrove's English word tokenizer, vectorized over a batch.

datatrove's quality filters count and compare *words* from
``datatrove.utils.text.split_into_words(text, "eng")``: spaCy's blank English tokenizer
(split at whitespace, strip prefixes and suffixes from each chunk, split the rest at infixes,
apply a table of special cases), whitespace tokens dropped. Running spaCy document by
document is most of those filters' time, so here the segmentation is one Rust-regex scan
(:func:`token_pattern`, run by polars ``str.extract_all`` over a whole column) followed by
table lookups over all the words at once for spaCy's special cases: sequences it keeps as
one word (``Mr.``, ``e.g.``, ``C++``, emoticons), words it splits (``don't`` -> ``do n't``,
``cannot`` -> ``can not``, ``im`` -> ``i m``) and numbers with a unit (``5km`` -> ``5 km``).

The regex engine has no look-around, so the rules are written as joints keyed on the next
character (and, for two of them, the previous one). Differences from spaCy found on the
shared corpora (each well under 1 word in 1,000; decision agreement is measured by
tests/corpus/test_quality.py and benchmarks/bench_quality.py):

* a hyphen between two words spelled ``a--b`` gives ``a-`` ``-b`` (spaCy: ``a`` ``--`` ``b``);
* a hyphen after a non-ASCII letter is taken as a word's leading hyphen (``ñ-a`` -> ``ñ`` ``-a``),
  and one before a non-ASCII letter as a trailing one (``peut-être`` splits; ``x-é`` may not):
  the context tests use ASCII word boundaries, which keep the automaton fast;
* a final period after a letter spaCy's rules do not know (``ӱ.``, ``ʼ.``) is split off, and
  ``McD.``-style words (a capital after a lower-case letter) lose their period;
* a one-character run between two joints (``a.b.C``, ``a-1-b``) may split differently;
* ``+`` after a letter at the end of a word (``Star+``) is split off;
* special cases are merged when their text occurs in the document as written, which can
  merge a spaced occurrence (``Mr .``) in a document that also has ``Mr.``.

The exception tables below are data from spaCy 3.8 (``spacy.lang.en.tokenizer_exceptions``)
and datatrove 0.10.1 (``datatrove.utils.text``), embedded so that the filters need neither
spaCy nor datatrove at run time; tests check them against both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import polars as pl

# datatrove.utils.text.PUNCTUATION (0.10.1)
_DATATROVE_PUNCTUATION = (
    "!/—”:％１〈&(、━\x5c【#%「」，】；+^]~“《„\x27;’{|∶´[=-`*"
    "．（–？！：$～«〉,><》)?）。…@_.\x22}►»\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0d\x0e\x0f"
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96"
    "\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
)
# datatrove.utils.text.TERMINAL_PUNCTUATION (0.10.1)
TERMINAL_PUNCTUATION = frozenset(
    "!.?։؝؞؟۔܀܁܂߹࠷࠹࠽࠾।॥၊။።፧፨᙮᜵᜶។៕៖៙៚᠃᠉᥄᥅᪨᪩᪪᪫᭚"
    "᭛᭞᭟᭽᭾᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼⹓⹔。꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗"
    "！．？｡\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9\U000115ca"
    "\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44\U00016e98\U0001bc9f\U0001da88"
)


# spaCy English tokenizer exceptions that split one string into several tokens,
# written as the parts joined by '|' (the key is the parts concatenated).
_SPLIT_EXCEPTIONS = (
    "10|a.m. 10|am 10|p.m. 10|pm 11|a.m. 11|am 11|p.m. 11|pm 12|a.m. 12|am 12|p.m. 12|pm 1|a.m. 1|am "
    "1|p.m. 1|pm 2|a.m. 2|am 2|p.m. 2|pm 3|a.m. 3|am 3|p.m. 3|pm 4|a.m. 4|am 4|p.m. 4|pm 5|a.m. 5|am "
    "5|p.m. 5|pm 6|a.m. 6|am 6|p.m. 6|pm 7|a.m. 7|am 7|p.m. 7|pm 8|a.m. 8|am 8|p.m. 8|pm 9|a.m. 9|am "
    "9|p.m. 9|pm Ai|n't Ai|nt Ai|n’t Are|n't Are|nt Are|n’t C'm|on Can|not Ca|n't Ca|n't|'ve Ca|nt "
    "Ca|nt|ve Ca|n’t Ca|n’t|’ve Could|'ve Could|n't Could|n't|'ve Could|nt Could|nt|ve Could|n’t "
    "Could|n’t|’ve Could|ve Could|’ve C’m|on Dare|n't Dare|nt Dare|n’t Did|n't Did|n't|'ve Did|nt "
    "Did|nt|ve Did|n’t Did|n’t|’ve Does|n't Does|n't|'ve Does|nt Does|nt|ve Does|n’t Does|n’t|’ve "
    "Do|n't Do|n't|'ve Do|nt Do|nt|ve Do|n’t Do|n’t|’ve Gon|na Got|ta Had|n't Had|n't|'ve Had|nt "
    "Had|nt|ve Had|n’t Had|n’t|’ve Has|n't Has|nt Has|n’t Have|n't Have|nt Have|n’t He|'d He|'d|'ve "
    "He|'ll He|'ll|'ve He|'s He|d He|d|ve He|ll|ve He|s He|’d He|’d|’ve He|’ll He|’ll|’ve He|’s "
    "How|'d How|'d|'ve How|'d|'y How|'ll How|'ll|'ve How|'re How|'s How|'ve How|d How|d|ve How|ll "
    "How|ll|ve How|re How|s How|ve How|’d How|’d|’ve How|’d|’y How|’ll How|’ll|’ve How|’re How|’s "
    "How|’ve Is|n't Is|nt Is|n’t It|'d It|'d|'ve It|'ll It|'ll|'ve It|'s It|d It|d|ve It|ll It|ll|ve "
    "It|’d It|’d|’ve It|’ll It|’ll|’ve It|’s I|'d I|'d|'ve I|'ll I|'ll|'ve I|'m I|'m|a I|'ve I|d "
    "I|d|ve I|ll|ve I|m I|m|a I|ve I|’d I|’d|’ve I|’ll I|’ll|’ve I|’m I|’m|a I|’ve Let|'s Let|’s "
    "May|n't May|n't|'ve May|nt May|nt|ve May|n’t May|n’t|’ve Might|'ve Might|n't Might|n't|'ve "
    "Might|nt Might|nt|ve Might|n’t Might|n’t|’ve Might|ve Might|’ve Must|'ve Must|n't Must|n't|'ve "
    "Must|nt Must|nt|ve Must|n’t Must|n’t|’ve Must|ve Must|’ve Need|n't Need|n't|'ve Need|nt "
    "Need|nt|ve Need|n’t Need|n’t|’ve Not|'ve Not|ve Not|’ve Ought|n't Ought|n't|'ve Ought|nt "
    "Ought|nt|ve Ought|n’t Ought|n’t|’ve Sha|n't Sha|n't|'ve Sha|nt Sha|nt|ve Sha|n’t Sha|n’t|’ve "
    "She|'d She|'d|'ve She|'ll She|'ll|'ve She|'s She|d|ve She|ll|ve She|s She|’d She|’d|’ve She|’ll "
    "She|’ll|’ve She|’s Should|'ve Should|n't Should|n't|'ve Should|nt Should|nt|ve Should|n’t "
    "Should|n’t|’ve Should|ve Should|’ve That|'d That|'d|'ve That|'ll That|'ll|'ve That|'s That|d "
    "That|d|ve That|ll That|ll|ve That|s That|’d That|’d|’ve That|’ll That|’ll|’ve That|’s There|'d "
    "There|'d|'ve There|'ll There|'ll|'ve There|'re There|'s There|'ve There|d There|d|ve There|ll "
    "There|ll|ve There|re There|s There|ve There|’d There|’d|’ve There|’ll There|’ll|’ve There|’re "
    "There|’s There|’ve These|'d These|'d|'ve These|'ll These|'ll|'ve These|'re These|'ve These|d "
    "These|d|ve These|ll These|ll|ve These|re These|ve These|’d These|’d|’ve These|’ll These|’ll|’ve "
    "These|’re These|’ve They|'d They|'d|'ve They|'ll They|'ll|'ve They|'re They|'ve They|d They|d|ve "
    "They|ll They|ll|ve They|re They|ve They|’d They|’d|’ve They|’ll They|’ll|’ve They|’re They|’ve "
    "This|'d This|'d|'ve This|'ll This|'ll|'ve This|'s This|d This|d|ve This|ll This|ll|ve This|s "
    "This|’d This|’d|’ve This|’ll This|’ll|’ve This|’s Those|'d Those|'d|'ve Those|'ll Those|'ll|'ve "
    "Those|'re Those|'ve Those|d Those|d|ve Those|ll Those|ll|ve Those|re Those|ve Those|’d "
    "Those|’d|’ve Those|’ll Those|’ll|’ve Those|’re Those|’ve Was|n't Was|nt Was|n’t Were|n't Were|nt "
    "Were|n’t We|'d We|'d|'ve We|'ll We|'ll|'ve We|'re We|'ve We|d We|d|ve We|ll|ve We|ve We|’d "
    "We|’d|’ve We|’ll We|’ll|’ve We|’re We|’ve What|'d What|'d|'ve What|'ll What|'ll|'ve What|'re "
    "What|'s What|'ve What|d What|d|ve What|ll What|ll|ve What|re What|s What|ve What|’d What|’d|’ve "
    "What|’ll What|’ll|’ve What|’re What|’s What|’ve When|'d When|'d|'ve When|'ll When|'ll|'ve "
    "When|'re When|'s When|'ve When|d When|d|ve When|ll When|ll|ve When|re When|s When|ve When|’d "
    "When|’d|’ve When|’ll When|’ll|’ve When|’re When|’s When|’ve Where|'d Where|'d|'ve Where|'ll "
    "Where|'ll|'ve Where|'re Where|'s Where|'ve Where|d Where|d|ve Where|ll Where|ll|ve Where|re "
    "Where|s Where|ve Where|’d Where|’d|’ve Where|’ll Where|’ll|’ve Where|’re Where|’s Where|’ve "
    "Who|'d Who|'d|'ve Who|'ll Who|'ll|'ve Who|'re Who|'s Who|'ve Who|d Who|d|ve Who|ll Who|ll|ve "
    "Who|s Who|ve Who|’d Who|’d|’ve Who|’ll Who|’ll|’ve Who|’re Who|’s Who|’ve Why|'d Why|'d|'ve "
    "Why|'ll Why|'ll|'ve Why|'re Why|'s Why|'ve Why|d Why|d|ve Why|ll Why|ll|ve Why|re Why|s Why|ve "
    "Why|’d Why|’d|’ve Why|’ll Why|’ll|’ve Why|’re Why|’s Why|’ve Would|'ve Would|n't Would|n't|'ve "
    "Would|nt Would|nt|ve Would|n’t Would|n’t|’ve Would|ve Would|’ve Wo|n't Wo|n't|'ve Wo|nt Wo|nt|ve "
    "Wo|n’t Wo|n’t|’ve You|'d You|'d|'ve You|'ll You|'ll|'ve You|'re You|'ve You|d You|d|ve You|ll "
    "You|ll|ve You|re You|ve You|’d You|’d|’ve You|’ll You|’ll|’ve You|’re You|’ve ai|n't ai|nt "
    "ai|n’t are|n't are|nt are|n’t c'm|on can|not ca|n't ca|n't|'ve ca|nt ca|nt|ve ca|n’t ca|n’t|’ve "
    "could|'ve could|n't could|n't|'ve could|nt could|nt|ve could|n’t could|n’t|’ve could|ve "
    "could|’ve c’m|on dare|n't dare|nt dare|n’t did|n't did|n't|'ve did|nt did|nt|ve did|n’t "
    "did|n’t|’ve does|n't does|n't|'ve does|nt does|nt|ve does|n’t does|n’t|’ve do|n't do|n't|'ve "
    "do|nt do|nt|ve do|n’t do|n’t|’ve gon|na got|ta had|n't had|n't|'ve had|nt had|nt|ve had|n’t "
    "had|n’t|’ve has|n't has|nt has|n’t have|n't have|nt have|n’t he|'d he|'d|'ve he|'ll he|'ll|'ve "
    "he|'s he|d he|d|ve he|ll|ve he|s he|’d he|’d|’ve he|’ll he|’ll|’ve he|’s how|'d how|'d|'ve "
    "how|'d|'y how|'ll how|'ll|'ve how|'re how|'s how|'ve how|d how|d|ve how|ll how|ll|ve how|re "
    "how|s how|ve how|’d how|’d|’ve how|’d|’y how|’ll how|’ll|’ve how|’re how|’s how|’ve is|n't is|nt "
    "is|n’t it|'d it|'d|'ve it|'ll it|'ll|'ve it|'s it|d it|d|ve it|ll it|ll|ve it|’d it|’d|’ve "
    "it|’ll it|’ll|’ve it|’s i|'d i|'d|'ve i|'ll i|'ll|'ve i|'m i|'m|a i|'ve i|d i|d|ve i|ll|ve i|m "
    "i|m|a i|ve i|’d i|’d|’ve i|’ll i|’ll|’ve i|’m i|’m|a i|’ve let|'s let|’s may|n't may|n't|'ve "
    "may|nt may|nt|ve may|n’t may|n’t|’ve might|'ve might|n't might|n't|'ve might|nt might|nt|ve "
    "might|n’t might|n’t|’ve might|ve might|’ve must|'ve must|n't must|n't|'ve must|nt must|nt|ve "
    "must|n’t must|n’t|’ve must|ve must|’ve need|n't need|n't|'ve need|nt need|nt|ve need|n’t "
    "need|n’t|’ve not|'ve not|ve not|’ve ought|n't ought|n't|'ve ought|nt ought|nt|ve ought|n’t "
    "ought|n’t|’ve sha|n't sha|n't|'ve sha|nt sha|nt|ve sha|n’t sha|n’t|’ve she|'d she|'d|'ve she|'ll "
    "she|'ll|'ve she|'s she|d|ve she|ll|ve she|s she|’d she|’d|’ve she|’ll she|’ll|’ve she|’s "
    "should|'ve should|n't should|n't|'ve should|nt should|nt|ve should|n’t should|n’t|’ve should|ve "
    "should|’ve that|'d that|'d|'ve that|'ll that|'ll|'ve that|'s that|d that|d|ve that|ll that|ll|ve "
    "that|s that|’d that|’d|’ve that|’ll that|’ll|’ve that|’s there|'d there|'d|'ve there|'ll "
    "there|'ll|'ve there|'re there|'s there|'ve there|d there|d|ve there|ll there|ll|ve there|re "
    "there|s there|ve there|’d there|’d|’ve there|’ll there|’ll|’ve there|’re there|’s there|’ve "
    "these|'d these|'d|'ve these|'ll these|'ll|'ve these|'re these|'ve these|d these|d|ve these|ll "
    "these|ll|ve these|re these|ve these|’d these|’d|’ve these|’ll these|’ll|’ve these|’re these|’ve "
    "they|'d they|'d|'ve they|'ll they|'ll|'ve they|'re they|'ve they|d they|d|ve they|ll they|ll|ve "
    "they|re they|ve they|’d they|’d|’ve they|’ll they|’ll|’ve they|’re they|’ve this|'d this|'d|'ve "
    "this|'ll this|'ll|'ve this|'s this|d this|d|ve this|ll this|ll|ve this|s this|’d this|’d|’ve "
    "this|’ll this|’ll|’ve this|’s those|'d those|'d|'ve those|'ll those|'ll|'ve those|'re those|'ve "
    "those|d those|d|ve those|ll those|ll|ve those|re those|ve those|’d those|’d|’ve those|’ll "
    "those|’ll|’ve those|’re those|’ve was|n't was|nt was|n’t were|n't were|nt were|n’t we|'d "
    "we|'d|'ve we|'ll we|'ll|'ve we|'re we|'ve we|d we|d|ve we|ll|ve we|ve we|’d we|’d|’ve we|’ll "
    "we|’ll|’ve we|’re we|’ve what|'d what|'d|'ve what|'ll what|'ll|'ve what|'re what|'s what|'ve "
    "what|d what|d|ve what|ll what|ll|ve what|re what|s what|ve what|’d what|’d|’ve what|’ll "
    "what|’ll|’ve what|’re what|’s what|’ve when|'d when|'d|'ve when|'ll when|'ll|'ve when|'re "
    "when|'s when|'ve when|d when|d|ve when|ll when|ll|ve when|re when|s when|ve when|’d when|’d|’ve "
    "when|’ll when|’ll|’ve when|’re when|’s when|’ve where|'d where|'d|'ve where|'ll where|'ll|'ve "
    "where|'re where|'s where|'ve where|d where|d|ve where|ll where|ll|ve where|re where|s where|ve "
    "where|’d where|’d|’ve where|’ll where|’ll|’ve where|’re where|’s where|’ve who|'d who|'d|'ve "
    "who|'ll who|'ll|'ve who|'re who|'s who|'ve who|d who|d|ve who|ll who|ll|ve who|s who|ve who|’d "
    "who|’d|’ve who|’ll who|’ll|’ve who|’re who|’s who|’ve why|'d why|'d|'ve why|'ll why|'ll|'ve "
    "why|'re why|'s why|'ve why|d why|d|ve why|ll why|ll|ve why|re why|s why|ve why|’d why|’d|’ve "
    "why|’ll why|’ll|’ve why|’re why|’s why|’ve would|'ve would|n't would|n't|'ve would|nt "
    "would|nt|ve would|n’t would|n’t|’ve would|ve would|’ve wo|n't wo|n't|'ve wo|nt wo|nt|ve wo|n’t "
    "wo|n’t|’ve y'|all you|'d you|'d|'ve you|'ll you|'ll|'ve you|'re you|'ve you|d you|d|ve you|ll "
    "you|ll|ve you|re you|ve you|’d you|’d|’ve you|’ll you|’ll|’ve you|’re you|’ve y|all y’|all °|C|. "
    "°|F|. °|K|. °|c|. °|f|. °|k|. "
)
# spaCy English special cases kept as one token that contain punctuation.
_KEPT_WHOLE = (
    "' '' 'Cause 'Cos 'Coz 'Cuz 'S 'bout 'cause 'cos 'coz 'cuz 'd 'em 'll 'nuff 're 's (*_*) (-8 (-: "
    "(-; (-_-) (._.) (: (; (= (>_<) (^_^) (o: (¬_¬) (ಠ_ಠ) (╯°□°）╯︵┻━┻ )-: ): -_- -__- ._. 0.0 0.o 8) "
    "8-) 8-D :'( :') :'-( :'-) :( :(( :((( :() :) :)) :))) :* :-( :-(( :-((( :-) :-)) :-))) :-* :-/ "
    ":-0 :-3 :-> :-D :-O :-P :-X :-] :-o :-p :-x :-| :-} :/ :0 :1 :3 :> :D :O :P :X :] :o :o) :p :x "
    ":| :} :’( :’) :’-( :’-) ;) ;-) ;-D ;D ;_; <.< </3 <3 <33 <333 =( =) =/ =3 =D =[ =] =| >.< >.> "
    ">:( >:o ><(((*> @_@ Adm. Ak. Ala. Apr. Ariz. Ark. Aug. Bros. C++ Calif. Co. Colo. Conn. Corp. "
    "D.C. Dec. Del. Doin' Doin’ Dr. E.G. E.g. Feb. Fla. Ga. Gen. Goin' Goin’ Gov. Havin' Havin’ I.E. "
    "I.e. Ia. Id. Ill. Inc. Ind. Jan. Jr. Jul. Jun. Kan. Kans. Ky. La. Lovin' Lovin’ Ltd. Ma'am Mar. "
    "Mass. Ma’am Md. Messrs. Mich. Minn. Miss. Mo. Mont. Mr. Mrs. Ms. Mt. N.C. N.D. N.H. N.J. N.M. "
    "N.Y. Neb. Nebr. Nev. Nothin' Nothin’ Nov. Nuthin' Nuthin’ O'clock O.O O.o Oct. Okla. Ol' Ol’ "
    "Ore. O’clock Pa. Ph.D. Prof. Rep. Rev. S.C. Sen. Sep. Sept. Somethin' Somethin’ St. Tenn. V.V "
    "Va. Wash. Wis. [-: [: [= ]= ^_^ ^__^ ^___^ a. a.m. and/or b. c. co. d. doin' doin’ e. e.g. f. g. "
    "goin' goin’ h. havin' havin’ i. i.e. j. k. l. lovin' lovin’ m. ma'am ma’am n. nothin' nothin’ "
    "nuthin' nuthin’ o'clock o. o.0 o.O o.o ol' ol’ o’clock p. p.m. q. r. s. somethin' somethin’ t. "
    "u. v. v.s. v.v vs. w. w/o x. y. z. ¯\\(ツ)/¯ ä. ö. ü. ಠ︵ಠ — ‘S ‘s ’ ’Cause ’Cos ’Coz ’Cuz ’S ’bout "
    "’cause ’cos ’coz ’cuz ’d ’em ’ll ’nuff ’re ’s ’’ "
)

PUNCTUATION_SET = frozenset(_DATATROVE_PUNCTUATION) | TERMINAL_PUNCTUATION
"""datatrove's ``PUNCTUATION_SET``: a word made only of these is a *symbol* word."""

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
"""datatrove's Gopher stop words (matched case-sensitively, as whole words)."""


def char_class(chars: str, *, negate: bool = False, extra: str = "") -> str:
    """A Rust-regex character class of ``chars`` (each escaped), plus raw ``extra`` items."""
    body = "".join(f"\\x{{{ord(c):X}}}" for c in sorted(set(chars))) + extra
    return f"[{'^' if negate else ''}{body}]"


NON_SYMBOL_CHAR = char_class(_DATATROVE_PUNCTUATION + "".join(TERMINAL_PUNCTUATION), negate=True)
"""A character outside ``PUNCTUATION_SET``: a word containing one is not a symbol word."""

# spaCy's Sentencizer default punct_chars (spacy/pipeline/sentencizer.pyx), which datatrove's
# split_into_sentences uses: a sentence ends after a token that is exactly one of these.
SENTENCE_END_CHARS = frozenset(
    "!.?\u0589\u061f\u06d4\u0700\u0701\u0702\u07f9\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736"
    "\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d"
    "\u2047\u2048\u2049\u2e2e\u2e3c\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d"
    "\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\U00010a56\U00010a57\U00011047\U00011048"
    "\U000110be\U000110bf\U000110c0\U000110c1\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd"
    "\U000111de\U000111df\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2"
    "\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1"
    "\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d"
    "\U0001173e\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00016a6e\U00016a6f\U00016af5"
    "\U00016b37\U00016b38\U00016b44\U0001bc9f\U0001da88\uff61\u3002"
)


def _is_punct(token: str) -> bool:
    """spaCy's ``is_punct``: every character is Unicode punctuation (category P*)."""
    return all(unicodedata.category(ch).startswith("P") for ch in token)


def count_sentences(words: list[str]) -> int:
    """Sentences spaCy's Sentencizer finds in a text with these words (>= 1 if there are words).

    A new sentence starts at the first word that is not punctuation after a word that is
    exactly one of ``SENTENCE_END_CHARS``.
    """
    if not words:
        return 1  # datatrove's split_into_sentences returns [text] for a text without sentences
    sentences = 1
    seen_end = False
    for word in words:
        is_end = word in SENTENCE_END_CHARS
        if seen_end and not is_end and not _is_punct(word):
            sentences += 1
            seen_end = False
        elif is_end:
            seen_end = True
    return sentences


# --- spaCy's English punctuation classes (spacy/lang/char_classes.py, punctuation.py) ------
_QUOTES = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉〈〉⟦⟧"
_PUNCT = "…,:;!?¿؟¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪"
_CURRENCY = "$£€¥฿₽﷼₴₠₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₵₶₷₸₹₺₻₼₾₿"
_EDGE = _QUOTES + _PUNCT + _CURRENCY + "§%=—–+"  # split off at either end of a word
_CONDITIONAL = ".,-–—~:<>=/+*^"  # split inside a word depending on the neighbours
_HYPHENS = "-–—~"
_APOSTROPHES = "'’"
# Edge characters that stay inside a word when they are neither first nor last.
_INNER = "".join(c for c in _EDGE if c not in _CONDITIONAL + _APOSTROPHES + "…")
_UNITS = [
    "km",
    "km²",
    "km³",
    "m",
    "m²",
    "m³",
    "dm",
    "dm²",
    "dm³",
    "cm",
    "cm²",
    "cm³",
    "mm",
    "mm²",
    "mm³",
    "ha",
    "µm",
    "nm",
    "yd",
    "in",
    "ft",
    "kg",
    "g",
    "mg",
    "µg",
    "t",
    "lb",
    "oz",
    "m/s",
    "km/h",
    "kmh",
    "mph",
    "hPa",
    "Pa",
    "mbar",
    "mb",
    "MB",
    "kb",
    "KB",
    "gb",
    "GB",
    "tb",
    "TB",
    "T",
    "G",
    "M",
    "K",
    "%",
    "км",
    "км²",
    "км³",
    "м",
    "м²",
    "м³",
    "дм",
    "дм²",
    "дм³",
    "см",
    "см²",
    "см³",
    "мм",
    "мм²",
    "мм³",
    "нм",
    "кг",
    "г",
    "мг",
    "м/с",
    "км/ч",
    "кПа",
    "Па",
    "мбар",
    "Кб",
    "КБ",
    "кб",
    "Мб",
    "МБ",
    "мб",
    "Гб",
    "ГБ",
    "гб",
    "Тб",
    "ТБ",
    "тбكم",
    "كم²",
    "كم³",
    "م",
    "م²",
    "م³",
    "سم",
    "سم²",
    "سم³",
    "مم",
    "مم²",
    "مم³",
    "كم",
    "غرام",
    "جرام",
    "جم",
    "كغ",
    "ملغ",
    "كوب",
    "اكواب",
]

# spaCy splits these symbols off everywhere (its LIST_ICONS, roughly \p{So}); a few ranges
# cover the ones met in text (©, ®, °, ™, arrows, box drawing, dingbats, emoji) while keeping
# the automaton small, which is what keeps the regex fast.
_ICONS = r"\x{A6}\x{A9}\x{AE}\x{B0}\x{2100}-\x{214F}\x{2190}-\x{2BFF}\x{FFFC}\x{FFFD}\x{1F000}-\x{1FAFF}"
_PLAIN = char_class(_EDGE + _CONDITIONAL + _APOSTROPHES, negate=True, extra=r"\s" + _ICONS)
_JOINER = char_class("".join(ch for ch in _EDGE + _CONDITIONAL + _APOSTROPHES if ch not in ".…"))


def _plain_minus(extra: str) -> str:
    """``_PLAIN`` without the classes in ``extra`` (Rust class subtraction)."""
    return f"[{_PLAIN}--[{extra}]]"


def _literal(text: str) -> str:
    return "".join(c if c.isalnum() and c.isascii() else f"\\x{{{ord(c):X}}}" for c in text)


def _word_pattern() -> str:
    """One word: a run of plain characters and the joints spaCy's infix rules leave alone.

    spaCy strips prefixes and suffixes from the ends of a whitespace-separated chunk and
    splits the rest at infixes (a hyphen between letters, a period between a lower-case and
    an upper-case letter, a comma between letters, ``:<>=/`` before a letter, ``+-*^``
    between digits, ellipses). Everything else inside stays one token, so a word here is a
    run of plain characters joined by the joints that no infix rule matches. Most rules are
    keyed on the next character only, which keeps the automaton small (and the regex fast).
    """
    hy = char_class(_HYPHENS)
    quote = char_class(_QUOTES)
    not_hyphen = f"[{_JOINER}--{hy}]"
    not_quote = f"[{_JOINER}--{quote}]"
    run = f"(?:{_JOINER}|\\.{_JOINER})*"  # joiners, with single periods between them
    operators = char_class("+*^")
    with_previous = [
        r"\p{L}" + hy + "+[0-9]",  # Covid-19 (a hyphen before a digit splits only after a digit)
        r"\p{L}" + operators + "+[0-9]",  # x+20, m*4 (so does + * ^)
        r"\p{Lu}\.\p{Lu}",  # U.S, D.Live (a period splits only lower.Upper)
        r"\p{Ll}\p{Lu}\.(?-u:\B)",  # PhD. (a final period stays after one capital)
        _plain_minus(r"\p{L}0-9\x{B2}") + r"\.(?-u:\B)",  # cm³. (and after what is no letter or digit)
    ]
    # the plain character after a joint, where the rules above may apply to it: (x-6, *X.
    after_joint = f"(?:\\p{{L}}(?:{hy}|{operators})+[0-9]|\\p{{Lu}}\\.(?-u:\\B)|{_PLAIN})"
    items = [
        *with_previous,
        r"\." + _plain_minus(r"\p{Lu}"),  # 3.14, e.g, example.com; end.The splits
        "(?:,|" + char_class(":<>=/") + "+)" + _plain_minus(r"\p{L}"),  # 1,000 10:30 48/2=24>>24
        operators + "+" + after_joint.replace(_PLAIN + ")", _plain_minus("0-9") + ")"),  # a+b, 2*x-1; 2+2 splits
        hy + "+" + _plain_minus(r"\p{L}0-9"),  # @-@
        char_class(_APOSTROPHES) + "(?:" + _plain_minus("sS") + "|[sS]" + _PLAIN + ")",  # don't, l'homme; 's splits
        # a run of two or more joiners between plain characters stays, as does a run of one
        # that is no infix (f(x, yu´un): the infix rules want a letter or digit on both sides
        f"(?:{not_hyphen}(?:(?:{_JOINER}|\\.{_JOINER})+\\.?|\\.)|{hy}{not_hyphen}{run}\\.?|\\.{not_quote}{run}\\.?)"
        + after_joint,
        char_class(_INNER) + "+" + after_joint,
        # a final run of joiners stays when it ends with a character no suffix rule strips
        run + char_class("-~=/") + r"(?-u:\B)",
        char_class(_CURRENCY) + r"+\.(?-u:\B)",  # 350$. (no rule splits a period after a currency sign)
        _PLAIN,
    ]
    first = [
        *with_previous,
        _PLAIN,
        r"(?-u:\B)" + char_class("-~/") + "+",  # -5, --x, /usr: hyphens and slashes are no prefixes
        r"(?-u:\B)\.(?:" + _PLAIN + "|/)",  # .5, ./run.sh
        r"(?-u:\B)\+[0-9]",  # +49: a plus before a digit is no prefix
    ]
    return f"(?:{'|'.join(first)})(?:{'|'.join(items)})*"


@cache
def token_pattern() -> str:
    """The tokenizer as one regex; ``str.extract_all`` with it yields the words in order.

    spaCy's special cases that contain punctuation (``Mr.``, ``e.g.``, ``:)``) are not in it:
    they are merged afterwards (see :func:`split_words`), which keeps the regex small.
    """
    url_body = char_class(_EDGE + "." + _APOSTROPHES, negate=True, extra=r"\s" + _ICONS)
    parts = [
        # URLs stay whole; the trailing punctuation spaCy strips first is left out
        r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|www\.)\S*" + url_body,
        r"\.\.+",
        char_class(_HYPHENS) + "{2,}",  # -- between words
        char_class(_APOSTROPHES) + r"[sS](?-u:\b)",  # the possessive / "is" suffix
        r"(?:\p{Lu}\.)+(?-u:\B)",  # initials: J. U.S.A. (a final period after one capital stays)
        _word_pattern(),
        r"\S",
    ]
    return "|".join(f"(?:{p})" for p in parts)


_UNIT_TOKEN = re.compile(r"^(.*?[0-9])(" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + r")$")
_UNIT_IN_TEXT = (
    r"[0-9](?:" + "|".join(_literal(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")(?:$|[^\p{L}\p{N}])"
)


@dataclass(frozen=True)
class _Fixups:
    """spaCy's special cases, as lookups on the words the regex produces.

    ``merges``: word sequences spaCy keeps as one word (``Mr`` ``.`` -> ``Mr.``, ``:`` ``)`` ->
    ``:)``), keyed by their first two words, longest first. ``splits``: words spaCy splits
    (``don't`` -> ``do`` ``n't``).
    """

    merges: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]]
    splits: dict[str, list[str]]


@cache
def _fixups() -> _Fixups:
    splits = {"".join(parts): parts for parts in (e.split("|") for e in _SPLIT_EXCEPTIONS.split())}
    specials = [w for w in _KEPT_WHOLE.split() if len(w) > 1]
    pieces = pl.Series(specials).str.extract_all(token_pattern()).to_list()
    merges: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = {}
    for word, parts in zip(specials, pieces):
        if len(parts) > 1 and "".join(parts) == word:
            merges.setdefault((parts[0], parts[1]), []).append((tuple(parts), word))
    for options in merges.values():
        options.sort(key=lambda option: -len(option[0]))
    return _Fixups(merges, splits)


@dataclass(frozen=True)
class Words:
    """The words of a batch of documents, flattened, document after document.

    Held as the regex's words (``found``, with their documents ``found_doc``) plus the patch
    that turns them into spaCy's: ``replaced`` found words are dropped and the ``patch``
    words put in their place (``source``: for each final word, the found word it comes
    from; ``patched``: final positions that hold a patch word; ``patch_doc``: their
    documents). Per-word values are computed on the found words and patched in numpy
    (:meth:`map`, :meth:`sum_per_doc`), which is much cheaper than rebuilding the strings;
    :attr:`words` builds them when they are wanted.
    """

    found: pl.Series
    found_doc: np.ndarray  # int64, the document of each found word
    replaced: np.ndarray  # int64 found positions that the patch replaces, ascending
    sizes: np.ndarray  # int64, how many patch words replace each of them (0: merged away)
    patched: np.ndarray  # int64 final positions holding a patch word, ascending
    patch: list[str]
    patch_doc: np.ndarray  # int64, the document of each patch word
    offsets: np.ndarray  # int64, len(documents) + 1: words[offsets[i]:offsets[i+1]] is document i

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @cached_property
    def source(self) -> np.ndarray:
        """For each final word, the index of the found word it comes from."""
        repeat = np.ones(len(self.found), dtype=np.int64)
        repeat[self.replaced] = self.sizes
        return np.repeat(np.arange(len(self.found), dtype=np.int64), repeat)

    @property
    def counts(self) -> np.ndarray:
        """Words per document."""
        return np.diff(self.offsets)

    def doc_index(self) -> np.ndarray:
        """For each word, the index of its document."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int64), self.counts)

    def _is_identity(self) -> bool:
        return len(self.replaced) == 0

    def map(self, fn: Callable[[pl.Series], pl.Series]) -> np.ndarray:
        """``fn`` (an elementwise Series -> Series function) applied to every word, as numpy."""
        values = fn(self.found).to_numpy()
        if self._is_identity():
            return values
        out = values[self.source]
        out[self.patched] = fn(pl.Series(self.patch, dtype=pl.String)).to_numpy()
        return out

    def sum_per_doc(self, fn: Callable[[pl.Series], pl.Series], found_values: np.ndarray | None = None) -> np.ndarray:
        """Per document, the sum of ``fn`` over its words (``found_values``: ``fn`` of the found words, if known)."""
        n_docs = len(self.offsets) - 1
        values = (fn(self.found).to_numpy() if found_values is None else found_values).astype(np.float64)
        if self._is_identity():
            return np.bincount(self.found_doc, weights=values, minlength=n_docs)
        values = values.copy()
        values[self.replaced] = 0.0
        patch_values = fn(pl.Series(self.patch, dtype=pl.String)).to_numpy().astype(np.float64)
        return np.bincount(self.found_doc, weights=values, minlength=n_docs) + np.bincount(
            self.patch_doc, weights=patch_values, minlength=n_docs
        )

    @property
    def words(self) -> pl.Series:
        """The words as strings (built on demand)."""
        if self._is_identity():
            return self.found
        return self.found.gather(self.source).scatter(self.patched, self.patch)


def split_words(texts: pl.Series) -> Words:
    """Split every text into datatrove's English words (spaCy's segmentation, whitespace dropped).

    One regex pass finds the words; then lookups over all of them at once find the few that
    spaCy treats as special cases: sequences it keeps as one word (``Mr`` ``.`` -> ``Mr.``)
    and words it splits (``don't`` -> ``do`` ``n't``, ``5km`` -> ``5`` ``km``).
    """
    texts = texts.fill_null("")
    lists = texts.str.extract_all(token_pattern())
    counts = lists.list.len().to_numpy().astype(np.int64)
    found = lists.explode(empty_as_null=False, keep_nulls=False)
    doc_of = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    replace: dict[int, list[str]] = {}
    if len(found):
        replace = _merges(found, doc_of, texts)
        replace.update(_splits(found, doc_of, texts, skip=replace.keys()))
    replaced = np.array(sorted(replace), dtype=np.int64)
    sizes = np.array([len(replace[i]) for i in replaced.tolist()], dtype=np.int64)
    # a replaced word at found position p lands at p plus the growth of the replacements before it
    starts = replaced + np.concatenate([[0], np.cumsum(sizes - 1)[:-1]]).astype(np.int64)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    patched = np.repeat(starts, sizes) + within
    patch_doc = np.repeat(doc_of[replaced], sizes)
    counts = counts + np.bincount(doc_of[replaced], weights=sizes - 1, minlength=len(counts)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    patch = [w for i in replaced.tolist() for w in replace[i]]
    return Words(found, doc_of, replaced, sizes, patched, patch, patch_doc, offsets)


def _merges(words: pl.Series, doc_of: np.ndarray, texts: pl.Series) -> dict[int, list[str]]:
    """{position: [special]} at the start of each special case, {position: []} for its other pieces."""
    fix = _fixups()
    n = len(words)
    replace: dict[int, list[str]] = {}
    # two consecutive words of one document that both occur in special cases; then the
    # pair, and the whole sequence, are looked up
    pieces = pl.Series(list({word for pair in fix.merges for word in pair}), dtype=pl.String).implode()
    is_piece = words.is_in(pieces).to_numpy()
    starts = np.flatnonzero(is_piece[:-1] & is_piece[1:] & (doc_of[:-1] == doc_of[1:]))
    if len(starts):
        pairs = pl.select(pl.concat_str([words.gather(starts), words.gather(starts + 1)], separator="\x00")).to_series()
        known = pl.Series([f"{a}\x00{b}" for a, b in fix.merges], dtype=pl.String).implode()
        starts = starts[pairs.is_in(known).to_numpy()]
    if len(starts) == 0:
        return replace
    longest = max(len(seq) for options in fix.merges.values() for seq, _ in options)
    values = words.gather(np.minimum(np.add.outer(starts, np.arange(longest)), n - 1).ravel()).to_list()
    # spaCy merges only pieces written without spaces between them; the words do not record
    # spacing, so a merge needs the special case to occur in the document as written
    docs = np.unique(doc_of[starts])
    text_of = dict(zip(docs.tolist(), texts.gather(docs).to_list()))
    merged_until = -1
    for row, i in enumerate(starts.tolist()):
        if i < merged_until:
            continue
        window = values[row * longest : (row + 1) * longest]
        doc = int(doc_of[i])
        for seq, special in fix.merges.get((window[0], window[1]), ()):  # longest first
            k = len(seq)
            if i + k <= n and doc_of[i + k - 1] == doc and tuple(window[:k]) == seq and special in text_of[doc]:
                replace[i] = [special]
                replace.update({j: [] for j in range(i + 1, i + k)})
                merged_until = i + k
                break
    return replace


def _splits(words: pl.Series, doc_of: np.ndarray, texts: pl.Series, skip: Iterable[int]) -> dict[int, list[str]]:
    """{position: parts} for the exception table's words and for numbers followed by a unit."""
    fix = _fixups()
    is_exception = words.is_in(pl.Series(list(fix.splits), dtype=pl.String).implode()).to_numpy()
    candidates = set(np.flatnonzero(is_exception).tolist())
    with_units = np.flatnonzero(texts.str.contains(_UNIT_IN_TEXT).to_numpy())
    if len(with_units):  # only documents whose text has a number right before a unit
        in_unit_doc = np.zeros(len(texts), dtype=bool)
        in_unit_doc[with_units] = True
        scope = np.flatnonzero(in_unit_doc[doc_of])
        ends_in_unit = words.gather(scope).str.contains(r"[0-9]\p{L}+[²³]?$").to_numpy()
        candidates.update(scope[ends_in_unit].tolist())
    candidates -= set(skip)
    replace: dict[int, list[str]] = {}
    where = sorted(candidates)
    for i, word in zip(where, words.gather(where).to_list() if where else []):
        parts = fix.splits.get(word)
        if parts is None and (unit := _UNIT_TOKEN.match(word)):
            parts = list(unit.groups())
        if parts is not None:
            replace[i] = parts
    return replace
