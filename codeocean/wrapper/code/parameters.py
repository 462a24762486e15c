"""The example analysis' parameters, as a pydantic model.

The wrapper validates parameters against a JSON Schema; pydantic writes it from this model:

    python -c 'import json, parameters; print(json.dumps(parameters.Parameters.model_json_schema(), indent=2))' > parameter_schema.json

(`python parameters.py` does the same.) pydantic is needed only to export the schema, never
to run the analysis: analyse.py reads the validated parameters with the standard library.
"""

import json

from pydantic import BaseModel, Field


class Parameters(BaseModel):
    """Count a mouse's data assets and their files, and flag sparse assets."""

    analysis_name: str = Field(description="Name of the analysis (recorded with the result).")
    analysis_tag: str = Field(description="Tag of this analysis version (recorded with the result).")
    label: str = Field("demo", description="A label written into the summary.")
    min_files: int = Field(1, ge=0, description="An asset with fewer files than this is flagged as sparse.")


if __name__ == "__main__":
    print(json.dumps(Parameters.model_json_schema(), indent=2))
