
      export interface PossibleTypesResultData {
        possibleTypes: {
          [key: string]: string[]
        }
      }
      const result: PossibleTypesResultData = {
  "possibleTypes": {
    "MessageStreamEvent": [
      "MessageDelta",
      "MessageEnd"
    ],
    "Node": [
      "Document",
      "Message",
      "Session"
    ],
    "TextAnalysisResult": [
      "TextAnalysis",
      "TextAnalysisError"
    ]
  }
};
      export default result;
    