"""What the registry is sent, as both the API and the pages' forms read it: the fields and bounds every
input obeys (`fields`, `base`) and the input schemas the two share (`requests`), so that neither
camera_registry.api nor camera_registry.web imports the other. The API's own resource schemas stay in
camera_registry.api.schemas."""
