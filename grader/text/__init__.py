"""Reading free text: words, stems, languages, phrasings and the form of an answer."""
