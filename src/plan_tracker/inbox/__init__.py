"""The inbox: report templates for units, and ingestion of the files they send back.

- `template`: one XLSX per unit, pre-filled with its open obligations (`plan-tracker templates`).
- `readers`: XLSX / CSV / YAML report files into rows, within the caps of `safety`.
- `rows`: one row into a `Submission`, or located row errors.
- `ingest`: a whole file (or the plan's inbox folder) into the store, with receipts, error
  files and audit events; what `plan-tracker ingest` and the nightly collect stage call.
- `folders`: the inbox folder layout and safe file names.
- `safety`: caps on size, time and shape, zip inspection, formula neutralisation for exports.

The folder layout and the caps are documented in docs/INBOX.md.
"""
