"""Teaching aids for the notebooks: `filters` (classic hand-made kernels),
`geometry` (the plain functions behind the explorers), `viz` (plots),
`explorers` (the interactive explorers) and `exercises` (checkers for the
students' functions). Nothing in the kernels or the nn stack imports these."""
