"""Data for the word splitter (:mod:`corpus.ops._words`): datatrove 0.10.1's punctuation sets and
stop words, spaCy 3.8's sentence-end characters, English tokenizer exceptions, punctuation classes and
units, embedded so that the filters need neither library at run time (tests check them against both)."""

from __future__ import annotations

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
